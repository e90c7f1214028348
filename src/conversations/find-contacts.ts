import type { CallOptions, ChatwootClient } from '../chatwoot/client.ts';
import type { Config } from '../config/load-config.ts';
import { whatsappChannelOf } from './inbox-directory.ts';
import { type ParseResult, parseReference } from './reference/parse-reference.ts';

/** Contacts listed at most; Chatwoot returns 15 a page, and each needs one more request for its conversations. */
export const MAX_CONTACTS = 10;

export interface FoundConversation {
  readonly id: number;
  readonly status: string;
  readonly inbox: string | undefined;
  /** Chatwoot's `can_reply`: the 24-hour window is open (undefined when Chatwoot does not say). */
  readonly windowOpen: boolean | undefined;
  readonly url: string;
}

export interface FoundContact {
  readonly id: number;
  readonly name: string | undefined;
  /** As Chatwoot stores it (E.164); mask before showing. */
  readonly phone: string | undefined;
  readonly email: string | undefined;
  /** Its WhatsApp conversations, latest first. */
  readonly conversations: readonly FoundConversation[];
}

export interface FindResult {
  /** What was searched for: the query, or the phone number it was read as (E.164). */
  readonly searchedFor: string;
  readonly isPhone: boolean;
  readonly contacts: readonly FoundContact[];
  /** More contacts match than were listed. */
  readonly more: boolean;
}

/** Reads a query that looks like a phone number as one (so `+44 20…` finds `+442079…`); anything else is text. */
export function readFindQuery(
  query: string,
  config: Pick<Config, 'chatwoot' | 'defaultPhoneRegion'>,
): ParseResult<{ searchFor: string; isPhone: boolean }> {
  const trimmed = query.trim();
  if (!/^(\+|00|\()/.test(trimmed)) return { ok: true, value: { searchFor: trimmed, isPhone: false } };
  const phone = parseReference(trimmed, {
    accountId: config.chatwoot.accountId,
    chatwootOrigins: config.chatwoot.linkOrigins,
    defaultRegion: config.defaultPhoneRegion,
  });
  if (!phone.ok) return phone;
  return phone.value.kind === 'phone'
    ? { ok: true, value: { searchFor: phone.value.e164, isPhone: true } }
    : { ok: true, value: { searchFor: trimmed, isPhone: false } };
}

/** Matching contacts (name, email, phone) and their WhatsApp conversations, with the window state of each. */
export async function findContacts(
  client: ChatwootClient,
  search: { searchFor: string; isPhone: boolean },
  config: Pick<Config, 'chatwoot'>,
  call: CallOptions,
): Promise<FindResult> {
  const { contacts, hasMore } = await client.searchContacts(search.searchFor, 1, call);
  const inboxes = await client.listInboxes(call);
  const whatsappInboxes = new Map(
    inboxes.filter((inbox) => whatsappChannelOf(inbox) !== undefined).map((inbox) => [inbox.id, inbox]),
  );
  const listed = contacts.slice(0, MAX_CONTACTS);
  const results = await Promise.all(
    listed.map(async (contact): Promise<FoundContact> => {
      const conversations = await client.listContactConversations(contact.id, call);
      return {
        id: contact.id,
        name: contact.name ?? undefined,
        phone: contact.phone_number ?? undefined,
        email: contact.email ?? undefined,
        conversations: conversations
          .filter((conversation) => whatsappInboxes.has(conversation.inbox_id))
          .map((conversation) => ({
            id: conversation.id,
            status: conversation.status,
            inbox: whatsappInboxes.get(conversation.inbox_id)?.name,
            windowOpen: conversation.can_reply,
            url: conversationUrl(config, conversation.id),
          })),
      };
    }),
  );
  return {
    searchedFor: search.searchFor,
    isPhone: search.isPhone,
    contacts: results,
    more: hasMore || contacts.length > MAX_CONTACTS,
  };
}

/** The conversation in Chatwoot's dashboard, at the address people open Chatwoot at. */
export function conversationUrl(config: Pick<Config, 'chatwoot'>, conversationId: number): string {
  return `${config.chatwoot.publicUrl}/app/accounts/${config.chatwoot.accountId}/conversations/${conversationId}`;
}
