import { ChatwootError } from '../../chatwoot/errors.ts';
import type { Conversation } from '../../chatwoot/schemas.ts';
import type { Config } from '../../config/load-config.ts';
import { whatsappChannelOf } from '../../conversations/inbox-directory.ts';
import { parseReference } from '../../conversations/reference/parse-reference.ts';
import { maskPhone } from '../../conversations/reference/phone.ts';
import type { Logger } from '../../shared/logger.ts';
import { type CliIo, line } from '../cli-io.ts';
import { EXIT, type ExitCode, exitCodeFor } from '../exit-codes.ts';
import { withScratchBridge } from '../scratch-bridge.ts';

/** Contacts listed at most; Chatwoot returns 15 a page, and each needs one more request for its conversations. */
const MAX_CONTACTS = 10;
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
  const phone = /^(\+|00|\()/.test(query)
    ? parseReference(query, {
        accountId: config.chatwoot.accountId,
        chatwootOrigins: config.chatwoot.linkOrigins,
        defaultRegion: config.defaultPhoneRegion,
      })
    : undefined;
  if (phone !== undefined && !phone.ok) {
    line(io.stderr, phone.problem.message);
    return EXIT.usage;
  }
  const searchFor = phone?.ok === true && phone.value.kind === 'phone' ? phone.value.e164 : query;
  const call = { lane: 'interactive', deadlineMs: DEADLINE_MS } as const;
  const showPhone = (value: string | undefined) =>
    value === undefined ? undefined : options.fullNumbers ? value : maskPhone(value);
  try {
    return await withScratchBridge(config, io, logger, async (bridge) => {
      const { contacts, hasMore } = await bridge.client.searchContacts(searchFor, 1, call);
      const inboxes = await bridge.client.listInboxes(call);
      const whatsappInboxes = new Map(
        inboxes.filter((inbox) => whatsappChannelOf(inbox) !== undefined).map((inbox) => [inbox.id, inbox]),
      );
      const results = [];
      for (const contact of contacts.slice(0, MAX_CONTACTS)) {
        const conversations: Conversation[] = await bridge.client.listContactConversations(contact.id, call);
        results.push({
          id: contact.id,
          name: contact.name,
          phone: showPhone(contact.phone_number),
          email: contact.email,
          conversations: conversations
            .filter((conversation) => whatsappInboxes.has(conversation.inbox_id))
            .map((conversation) => ({
              id: conversation.id,
              status: conversation.status,
              inbox: whatsappInboxes.get(conversation.inbox_id)?.name,
              windowOpen: conversation.can_reply,
              url: `${config.chatwoot.publicUrl}/app/accounts/${config.chatwoot.accountId}/conversations/${conversation.id}`,
            })),
        });
      }
      const more = hasMore || contacts.length > MAX_CONTACTS;
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
