import { ChatwootError } from '../../chatwoot/errors.ts';
import type { Config } from '../../config/load-config.ts';
import { findContacts, readFindQuery } from '../../conversations/find-contacts.ts';
import { maskPhone } from '../../conversations/reference/phone.ts';
import type { Logger } from '../../shared/logger.ts';
import { type CliIo, line } from '../cli-io.ts';
import { EXIT, type ExitCode, exitCodeFor } from '../exit-codes.ts';
import { withScratchBridge } from '../scratch-bridge.ts';

const DEADLINE_MS = 15_000;

export interface FindOptions {
  readonly query: string;
  readonly json: boolean;
  readonly fullNumbers: boolean;
}

/** `find <phone|name|email>`: matching contacts and their WhatsApp conversations, with the 24-hour window state. */
export async function findCommand(options: FindOptions, config: Config, io: CliIo, logger: Logger): Promise<ExitCode> {
  const query = options.query.trim();
  if (query.length < 2) {
    line(io.stderr, 'Usage: find <phone|name|email> (at least 2 characters), e.g. find +44 20 7946 0958');
    return EXIT.usage;
  }
  const read = readFindQuery(query, config);
  if (!read.ok) {
    line(io.stderr, read.problem.message);
    return EXIT.usage;
  }
  const searchFor = read.value.searchFor;
  const call = { lane: 'interactive', deadlineMs: DEADLINE_MS } as const;
  const showPhone = (value: string | undefined) =>
    value === undefined ? undefined : options.fullNumbers ? value : maskPhone(value);
  try {
    return await withScratchBridge(config, io, logger, async (bridge) => {
      const found = await findContacts(bridge.client, read.value, config, call);
      const results = found.contacts.map((contact) => ({ ...contact, phone: showPhone(contact.phone) }));
      const more = found.more;
      if (options.json) {
        line(
          io.stdout,
          JSON.stringify({ query: searchFor === query ? query : showPhone(searchFor), contacts: results, more }),
        );
        return results.length === 0 ? EXIT.notFound : EXIT.ok;
      }
      if (results.length === 0) {
        line(io.stderr, `No contact matches "${searchFor === query ? query : showPhone(searchFor)}".`);
        return EXIT.notFound;
      }
      for (const contact of results) {
        line(io.stdout, [contact.name ?? '(no name)', contact.phone, contact.email].filter(Boolean).join('  '));
        if (contact.conversations.length === 0) line(io.stdout, '    no WhatsApp conversation');
        for (const conversation of contact.conversations) {
          const window =
            conversation.windowOpen === undefined ? '' : conversation.windowOpen ? 'window open' : 'window closed';
          line(
            io.stdout,
            `    #${conversation.id}  ${conversation.status.padEnd(8)}  ${window.padEnd(13)}  ${conversation.inbox ?? ''}`.trimEnd(),
          );
        }
      }
      if (more) line(io.stderr, 'More contacts match; refine the search to see them.');
      return EXIT.ok;
    });
  } catch (error) {
    if (!(error instanceof ChatwootError)) throw error;
    line(io.stderr, error.message);
    return exitCodeFor(error.code);
  }
}
