import { parseArgs } from 'node:util';
import { formatConfigProblems, loadConfig } from '../config/load-config.ts';
import { createLogger } from '../log/create-logger.ts';
import type { Logger } from '../shared/logger.ts';
import { type CliIo, line } from './cli-io.ts';
import { checkCommand } from './commands/check.ts';
import { findCommand } from './commands/find.ts';
import { sendCommand } from './commands/send.ts';
import { startCommand } from './commands/start.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';

export const USAGE = `Usage: slack-whatsapp-bridge <command> [options]

Commands:
  start                          Run the bridge until stopped (SIGTERM/SIGINT).
  send <conversation> <text>     Send a WhatsApp message and wait for the outcome.
                                 <conversation>: 57, #57, a Chatwoot conversation link, or +44 20 7946 0958
  find <phone|name|email>        List matching contacts and their WhatsApp conversations.
  check                          Check configuration, Chatwoot, the token, the WhatsApp inbox and the store.

Options:
  --json                 Machine-readable result on stdout (send, find, check).
  --key <key>            send: idempotency key; the same key never sends twice, even across runs.
  --wait accepted|sent   send: return once Chatwoot accepted it, or once WhatsApp took it (default: sent).
  --timeout <seconds>    send: stop waiting after this long (default: 120).
  --full-numbers         find: show phone numbers unmasked.
  -h, --help             Show this help.

Configuration comes from the environment (and .env); see .env.example. Exit codes: 0 ok, 2 usage,
3 configuration, 4 Chatwoot or store unavailable, 5 not authorized, 6 not found, 7 refused,
8 WhatsApp failed, 9 timed out waiting, 10 store in use by another process.`;

/** Runs one CLI invocation; returns the exit code. Everything outside is injected through `io`. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    line(io.stderr, `${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    line(command === undefined && values.help !== true ? io.stderr : io.stdout, USAGE);
    return command === undefined && values.help !== true ? EXIT.usage : EXIT.ok;
  }
  if (!['start', 'send', 'find', 'check'].includes(command)) {
    line(io.stderr, `Unknown command "${command}".\n\n${USAGE}`);
    return EXIT.usage;
  }

  const loaded = loadConfig(io.env, { slackApp: command === 'start' });
  if (!loaded.ok) {
    line(io.stderr, formatConfigProblems(loaded.problems));
    return EXIT.config;
  }
  const { config, warnings } = loaded;
  // The service logs JSON on stdout, where collectors expect it. One-off commands print results for people and
  // scripts on stdout, so their log goes to stderr, quiet unless LOG_LEVEL asks for more.
  const service = command === 'start';
  const logger: Logger = createLogger({
    level: service || io.env['LOG_LEVEL'] !== undefined ? config.logLevel : 'warn',
    destination: { write: (text: string) => (service ? io.stdout : io.stderr).write(text) },
  });
  if (command !== 'check') for (const warning of warnings) logger.warn({ warning }, 'configuration');

  const json = values.json === true;
  switch (command) {
    case 'start':
      return startCommand(config, io, logger);
    case 'send': {
      const wait = values.wait ?? 'sent';
      if (wait !== 'accepted' && wait !== 'sent') {
        line(io.stderr, `--wait must be "accepted" or "sent" (got "${wait}").`);
        return EXIT.usage;
      }
      const timeoutSeconds = values.timeout === undefined ? 120 : Number(values.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
        line(io.stderr, `--timeout must be a number of seconds (got "${values.timeout}").`);
        return EXIT.usage;
      }
      if (rest.length < 2) {
        line(io.stderr, 'Usage: send <conversation> <text>, e.g. send +44 20 7946 0958 "Your order has shipped"');
        return EXIT.usage;
      }
      return sendCommand({ words: rest, key: values.key, wait, timeoutSeconds, json }, config, io, logger);
    }
    case 'find':
      return findCommand(
        { query: rest.join(' '), json, fullNumbers: values['full-numbers'] === true },
        config,
        io,
        logger,
      );
    default:
      return checkCommand({ json, warnings }, config, io, logger);
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      key: { type: 'string' },
      wait: { type: 'string' },
      timeout: { type: 'string' },
      'full-numbers': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
