import { randomUUID } from 'node:crypto';
import { SubmitError } from '../../bridge.ts';
import type { Config } from '../../config/load-config.ts';
import { parseTarget } from '../../conversations/reference/parse-reference.ts';
import { describeState } from '../../delivery/describe-send.ts';
import { rank, type SendRecord } from '../../delivery/send-record.ts';
import type { Logger } from '../../shared/logger.ts';
import { type CliIo, line } from '../cli-io.ts';
import { EXIT, type ExitCode, exitCodeFor } from '../exit-codes.ts';
import { withScratchBridge } from '../scratch-bridge.ts';

export interface SendOptions {
  readonly words: readonly string[];
  readonly key: string | undefined;
  readonly wait: 'accepted' | 'sent';
  readonly timeoutSeconds: number;
  readonly json: boolean;
}

/**
 * `send <conversation> <text>`: the same parsing, conversion and delivery as Slack, then waits for the outcome.
 * State lives in memory (the running bot's store is left alone); `--key` makes a rerun safe across processes,
 * because the bridge then looks for the message in Chatwoot before sending.
 */
export async function sendCommand(options: SendOptions, config: Config, io: CliIo, logger: Logger): Promise<ExitCode> {
  const target = parseTarget(options.words.join(' '), {
    accountId: config.chatwoot.accountId,
    chatwootOrigins: config.chatwoot.linkOrigins,
    defaultRegion: config.defaultPhoneRegion,
  });
  if (!target.ok) {
    line(io.stderr, target.problem.message);
    return target.problem.code === 'usage' ? EXIT.usage : EXIT.refused;
  }
  const key = options.key ?? randomUUID();
  const timeoutMs = options.timeoutSeconds * 1000;
  // Someone is waiting at the terminal: look for WhatsApp's answer sooner than the bridge's default.
  const tuning = { sendRetry: { maxTotalMs: timeoutMs }, statusFirstDelayMs: 500, statusMaxDelayMs: 5_000 };
  const stopTimer = new AbortController();
  try {
    return await withScratchBridge(
      config,
      io,
      logger,
      async (bridge) => {
        let latest: SendRecord | undefined;
        const settled = new Promise<SendRecord>((resolveSettled) => {
          bridge.onChange((record) => {
            if (record.idempotencyKey !== `cli:${key}`) return;
            if (!options.json && record.state !== latest?.state) line(io.stderr, describeState(record, io.clock.now()));
            latest = record;
            if (record.state === 'failed' || rank(record.state) >= rank(options.wait)) resolveSettled(record);
          });
        });
        try {
          await bridge.submit({
            idempotencyKey: `cli:${key}`,
            reference: target.value.reference,
            content: { kind: 'text', text: target.value.text },
            requestedBy: { via: 'cli' },
            ...(options.key === undefined ? {} : { checkChatwootFirst: true }),
          });
        } catch (error) {
          if (!(error instanceof SubmitError)) throw error;
          line(io.stderr, error.message);
          return exitCodeFor(error.code);
        }
        const timer = io.clock.sleep(timeoutMs, stopTimer.signal).then(
          () => undefined,
          () => undefined,
        );
        const outcome = await Promise.race([settled, timer]);
        const record = outcome ?? latest;
        if (options.json) line(io.stdout, JSON.stringify(summary(record, key, outcome === undefined)));
        if (outcome === undefined) {
          line(
            io.stderr,
            `Not confirmed within ${options.timeoutSeconds} s${record === undefined ? '' : ` (${describeState(record, io.clock.now())})`}. ` +
              `To try again without risking a duplicate, run the same command with --key ${key}`,
          );
          return EXIT.timeout;
        }
        if (outcome.state === 'failed') {
          if (options.key === undefined && outcome.failure?.retryable === true && !options.json) {
            line(io.stderr, `To retry safely, run the same command with --key ${key}`);
          }
          return exitCodeFor(outcome.failure?.code ?? 'internal_error');
        }
        if (!options.json) line(io.stdout, describeState(outcome, io.clock.now()));
        return EXIT.ok;
      },
      tuning,
    );
  } finally {
    stopTimer.abort();
  }
}

function summary(record: SendRecord | undefined, key: string, timedOut: boolean): Record<string, unknown> {
  return {
    key,
    timedOut,
    sendId: record?.id,
    state: record?.state,
    conversationId: record?.conversation?.id,
    messageIds: record?.parts.flatMap((part) => (part.messageId === undefined ? [] : [part.messageId])) ?? [],
    parts: record?.parts.length ?? 0,
    reopened: record?.conversation?.reopen === 'done',
    failure: record?.failure,
  };
}
