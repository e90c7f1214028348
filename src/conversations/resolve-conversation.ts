import type Keyv from 'keyv';
import { z } from 'zod';
import type { CallOptions, ChatwootClient } from '../chatwoot/client.ts';
import { ChatwootNotFoundError, ChatwootRejectedError } from '../chatwoot/errors.ts';
import { type Conversation, type Inbox, MESSAGE_TYPE, type Message } from '../chatwoot/schemas.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { type InboxDirectory, type WhatsAppChannel, whatsappChannelOf } from './inbox-directory.ts';
import { type ConversationReference, referenceKey } from './reference/parse-reference.ts';
import { formatPhoneInternational, maskPhone, phoneVariants, whatsappSourceId } from './reference/phone.ts';
import { ResolveError } from './resolve-error.ts';

const DAY_MS = 24 * 60 * 60_000;
/** When Chatwoot says the window is open but its start is out of reach, trust that for this long. */
const UNKNOWN_END_TRUST_MS = 5 * 60_000;
/** Pages of history searched for the customer's last message. */
const WINDOW_PAGES = 3;

const windowSchema = z.discriminatedUnion('open', [
  z.object({ open: z.literal(true), endsAt: z.number() }),
  z.object({ open: z.literal(false), checkedAt: z.number() }),
]);
/** WhatsApp's 24-hour customer-service window: open until `endsAt`, or closed when last checked. */
export type WindowState = z.infer<typeof windowSchema>;

export const conversationFactsSchema = z.object({
  conversationId: z.number(),
  inboxId: z.number(),
  inboxName: z.string(),
  channel: z.enum(['whatsapp', 'twilio_whatsapp']),
  contactId: z.number(),
  contactName: z.string().optional(),
  contactPhone: z.string().optional(),
  status: z.string(),
  window: windowSchema,
  fetchedAt: z.number(),
});
/** What the bridge remembers of a conversation: who, where, and until when free text may be sent. */
export type ConversationFacts = z.infer<typeof conversationFactsSchema>;

export interface ResolvedConversation extends ConversationFacts {
  /** Served without asking Chatwoot. */
  readonly fromCache: boolean;
  /** The bridge created the contact's conversation just now (a number that never had one). */
  readonly created?: boolean;
  /** Resolved conversations are reopened before sending, so the customer's answer comes back to this one. */
  readonly needsReopen: boolean;
}

export interface ResolveOptions {
  /**
   * A number with no conversation gets one (contact, inbox link and conversation, in the WhatsApp inbox): only for an
   * approved template, the one thing WhatsApp lets a business send first.
   */
  readonly create?: boolean;
}

export interface ConversationResolver {
  resolve(
    reference: ConversationReference,
    options: CallOptions,
    resolveOptions?: ResolveOptions,
  ): Promise<ResolvedConversation>;
  /** The window as it is now: the remembered one while it stays open for `marginMs` more, else read again. */
  currentWindow(conversationId: number, options: CallOptions, marginMs: number): Promise<WindowState>;
  /** Record that the conversation is open again (after the bridge reopened it). */
  markOpen(conversationId: number): Promise<void>;
  /** Forget what is known (the customer wrote, or a send found the facts wrong). */
  forget(conversationId: number): Promise<void>;
}

export interface ConversationResolverOptions {
  readonly client: ChatwootClient;
  readonly inboxes: InboxDirectory;
  /** Reference key → conversation id. */
  readonly references: Keyv<number>;
  /** Conversation id → facts. */
  readonly conversations: Keyv<ConversationFacts>;
  /** How long a mapping and facts are reused without asking Chatwoot (0 disables the cache). */
  readonly ttlMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Finds the conversation a reference means, the one Chatwoot routes the customer's answer to:
 * with `lock_to_single_conversation` the latest one; otherwise the latest open, pending or snoozed one; when only
 * resolved ones exist, the latest, to be reopened. Only WhatsApp conversations are accepted.
 */
export function createConversationResolver(options: ConversationResolverOptions): ConversationResolver {
  const { client, inboxes, clock, logger, ttlMs } = options;
  const caching = ttlMs > 0;

  const remembered = async (conversationId: number): Promise<ConversationFacts | undefined> => {
    if (!caching) return undefined;
    const parsed = conversationFactsSchema.safeParse(await options.conversations.get(String(conversationId)));
    return parsed.success ? parsed.data : undefined;
  };
  const remember = async (facts: ConversationFacts): Promise<void> => {
    if (caching) await options.conversations.set(String(facts.conversationId), facts, ttlMs);
  };

  const latestIncoming = (messages: readonly Pick<Message, 'id' | 'message_type' | 'created_at'>[]) =>
    messages
      .filter((message) => message.message_type === MESSAGE_TYPE.incoming)
      .reduce<Pick<Message, 'id' | 'created_at'> | undefined>(
        (latest, message) => (latest === undefined || message.id > latest.id ? message : latest),
        undefined,
      );

  /** Chatwoot: can_reply = last incoming message + 24 h > now. Remember the end so no request is needed per send. */
  const readWindow = async (conversation: Conversation, callOptions: CallOptions): Promise<WindowState> => {
    const now = clock.now();
    if (conversation.can_reply === false) return { open: false, checkedAt: now };
    const fromLast = latestIncoming(
      conversation.messages.flatMap((message) =>
        message.created_at === undefined || message.id === undefined || message.message_type === undefined
          ? []
          : [{ id: message.id, message_type: message.message_type, created_at: message.created_at }],
      ),
    );
    const windowFrom = (createdAt: number): WindowState => {
      const endsAt = createdAt * 1000 + DAY_MS;
      return endsAt > now ? { open: true, endsAt } : { open: false, checkedAt: now };
    };
    if (fromLast !== undefined) return windowFrom(fromLast.created_at);
    let before: number | undefined;
    for (let page = 0; page < WINDOW_PAGES; page += 1) {
      const messages = await client.listMessages(conversation.id, before === undefined ? {} : { before }, callOptions);
      const incoming = latestIncoming(messages);
      if (incoming !== undefined) return windowFrom(incoming.created_at);
      const oldest = messages.reduce<Message | undefined>(
        (min, m) => (min === undefined || m.id < min.id ? m : min),
        undefined,
      );
      if (oldest === undefined || messages.length < 20 || oldest.created_at * 1000 + DAY_MS < now) break;
      before = oldest.id;
    }
    return conversation.can_reply === true
      ? { open: true, endsAt: now + UNKNOWN_END_TRUST_MS }
      : { open: false, checkedAt: now };
  };

  const factsFrom = async (
    conversation: Conversation,
    inbox: Inbox,
    callOptions: CallOptions,
  ): Promise<ConversationFacts> => {
    const channel = whatsappChannelOf(inbox);
    if (channel === undefined) {
      throw new ResolveError(
        'not_whatsapp',
        `Conversation #${conversation.id} is in the ${inbox.channel_type.replace('Channel::', '')} inbox "${inbox.name}", not WhatsApp.`,
        'The bridge only sends to WhatsApp conversations; check the conversation id.',
      );
    }
    const sender = conversation.meta.sender;
    return {
      conversationId: conversation.id,
      inboxId: inbox.id,
      inboxName: inbox.name,
      channel,
      contactId: sender.id,
      ...(sender.name === undefined ? {} : { contactName: sender.name }),
      ...(sender.phone_number === undefined ? {} : { contactPhone: sender.phone_number }),
      status: conversation.status,
      window: await readWindow(conversation, callOptions),
      fetchedAt: clock.now(),
    };
  };

  const fetchFacts = async (conversationId: number, callOptions: CallOptions): Promise<ConversationFacts> => {
    let conversation: Conversation;
    try {
      conversation = await client.getConversation(conversationId, callOptions);
    } catch (error) {
      if (error instanceof ChatwootNotFoundError) {
        throw new ResolveError(
          'conversation_not_found',
          `Chatwoot has no conversation #${conversationId} in account ${client.accountId}.`,
          'Check the number (it is the one in the conversation’s Chatwoot link).',
        );
      }
      throw error;
    }
    const facts = await factsFrom(conversation, await inboxes.inbox(conversation.inbox_id, callOptions), callOptions);
    await remember(facts);
    return facts;
  };

  /** The routing rule Chatwoot applies to the customer's next incoming message. */
  const pick = (conversations: readonly Conversation[], inbox: Inbox): Conversation | undefined => {
    const newestFirst = [...conversations].sort((a, b) => b.id - a.id);
    if (inbox.lock_to_single_conversation) return newestFirst[0];
    return newestFirst.find((conversation) => conversation.status !== 'resolved') ?? newestFirst[0];
  };

  const lookupPhone = async (
    e164: string,
    callOptions: CallOptions,
    create: boolean,
  ): Promise<ConversationFacts & { created?: boolean }> => {
    const inbox = await inboxes.whatsappInbox(callOptions);
    const variants = phoneVariants(e164);
    // A conversation counts only if its contact has one of the number's forms: this also guards against an old
    // Chatwoot that ignores the (undocumented) source_id filter and returns every conversation of the inbox.
    const belongs = (conversation: Conversation) =>
      conversation.inbox_id === inbox.id &&
      conversation.meta.sender.phone_number !== undefined &&
      variants.includes(conversation.meta.sender.phone_number);

    for (const variant of variants) {
      const found = (
        await client.listConversations(
          { inboxId: inbox.id, sourceId: whatsappSourceId(variant), status: 'all' },
          callOptions,
        )
      ).filter(belongs);
      const chosen = pick(found, inbox);
      if (chosen !== undefined) return factsFrom(chosen, inbox, callOptions);
    }
    const { contacts } = await client.searchContacts(e164, 1, callOptions);
    const matching = contacts.filter((candidate) => variants.includes(candidate.phone_number ?? ''));
    for (const contact of matching) {
      const chosen = pick((await client.listContactConversations(contact.id, callOptions)).filter(belongs), inbox);
      if (chosen !== undefined) return factsFrom(chosen, inbox, callOptions);
    }
    if (create) return { ...(await createConversation(e164, inbox, matching[0]?.id, callOptions)), created: true };
    throw new ResolveError(
      'unknown_number',
      `No WhatsApp conversation with ${maskPhone(e164)} exists in the inbox "${inbox.name}".`,
      'Check the number. A customer who never wrote to you can only be reached with an approved WhatsApp template (`/whatsapp template <number> <template>`, or the "Send WhatsApp message" shortcut), which starts the conversation.',
    );
  };

  /**
   * Chatwoot's recipe for a number that never wrote (reference §3.7): the contact (created with the inbox link, or an
   * existing contact linked to the inbox), then an open conversation. Each step is safe to repeat after an uncertain
   * outcome: the next attempt finds what the last one created (the conversation by its source_id, the contact by
   * search, and a duplicate phone number is a 422 that leads to the existing contact).
   */
  const createConversation = async (
    e164: string,
    inbox: Inbox,
    existingContactId: number | undefined,
    callOptions: CallOptions,
  ): Promise<ConversationFacts> => {
    let contactId = existingContactId;
    if (contactId === undefined) {
      try {
        contactId = (
          await client.createContact(
            { inboxId: inbox.id, name: formatPhoneInternational(e164), phoneNumber: e164 },
            callOptions,
          )
        ).contactId;
      } catch (error) {
        if (!(error instanceof ChatwootRejectedError)) throw error;
        // Taken meanwhile (or by a form of the number search did not return): find that contact.
        const again = (await client.searchContacts(e164, 1, callOptions)).contacts.find(
          (candidate) => candidate.phone_number === e164,
        );
        if (again === undefined) throw error;
        contactId = again.id;
      }
    }
    if (existingContactId !== undefined) await client.createContactInbox(contactId, inbox.id, callOptions);
    const conversation = await client.createConversation(inbox.id, contactId, callOptions);
    logger.info(
      { phone: maskPhone(e164), conversationId: conversation.id, contactId, inboxId: inbox.id },
      'created a WhatsApp conversation for a new number',
    );
    return factsFrom(conversation, inbox, callOptions);
  };

  /** One creation per number at a time: two sends to the same new number must not make two conversations. */
  const creating = new Map<string, Promise<ConversationFacts & { created?: boolean }>>();
  const lookupOnce = (e164: string, callOptions: CallOptions, create: boolean) => {
    if (!create) return lookupPhone(e164, callOptions, false);
    const running = creating.get(e164);
    if (running !== undefined) return running.then((facts) => ({ ...facts, created: false }));
    const started = lookupPhone(e164, callOptions, true).finally(() => creating.delete(e164));
    creating.set(e164, started);
    return started;
  };

  const resolved = (facts: ConversationFacts & { created?: boolean }, fromCache: boolean): ResolvedConversation => ({
    ...facts,
    fromCache,
    needsReopen: facts.status === 'resolved',
  });

  return {
    resolve: async (reference, callOptions, resolveOptions = {}) => {
      if (reference.kind === 'phone') {
        const key = referenceKey(reference);
        const knownId = caching ? await options.references.get(key) : undefined;
        if (typeof knownId === 'number') {
          const facts = await remembered(knownId);
          if (facts !== undefined) return resolved(facts, true);
          return resolved(await fetchFacts(knownId, callOptions), false);
        }
        const { created, ...facts } = await lookupOnce(reference.e164, callOptions, resolveOptions.create === true);
        await remember(facts);
        if (caching) await options.references.set(key, facts.conversationId, ttlMs);
        logger.debug(
          { phone: maskPhone(reference.e164), conversationId: facts.conversationId },
          'phone number resolved to a conversation',
        );
        return resolved(created === true ? { ...facts, created } : facts, false);
      }
      const facts = await remembered(reference.conversationId);
      if (facts !== undefined) return resolved(facts, true);
      return resolved(await fetchFacts(reference.conversationId, callOptions), false);
    },
    currentWindow: async (conversationId, callOptions, marginMs) => {
      const facts = await remembered(conversationId);
      if (facts?.window.open === true && facts.window.endsAt - clock.now() > marginMs) return facts.window;
      return (await fetchFacts(conversationId, callOptions)).window;
    },
    markOpen: async (conversationId) => {
      const facts = await remembered(conversationId);
      if (facts !== undefined) await remember({ ...facts, status: 'open' });
    },
    forget: async (conversationId) => {
      if (caching) await options.conversations.delete(String(conversationId));
    },
  };
}

export type { WhatsAppChannel };
