import { randomUUID } from 'node:crypto';
import ky, { type KyInstance } from 'ky';
import { z } from 'zod';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import {
  ChatwootBusyError,
  ChatwootError,
  type ChatwootErrorDetails,
  ChatwootRateLimitedError,
  ChatwootResponseError,
} from './errors.ts';
import type { Lane, RequestBudget } from './request-budget.ts';
import { backoffDelay, DEFAULT_RETRY_POLICY, nextWindowDelay, type RetryPolicy } from './retry-policy.ts';
import {
  type ApiInfo,
  apiInfoSchema,
  type Contact,
  type Conversation,
  contactConversationsSchema,
  contactInboxSchema,
  contactSearchSchema,
  conversationListSchema,
  conversationSchema,
  createContactSchema,
  type Inbox,
  inboxListSchema,
  type Message,
  messageListSchema,
  messageSchema,
  type Profile,
  profileSchema,
  toggleStatusSchema,
} from './schemas.ts';
import { fromStatus, fromTransportError } from './to-chatwoot-error.ts';

export interface ChatwootClientOptions {
  readonly baseUrl: string;
  readonly apiAccessToken: string;
  readonly accountId: number;
  /** Per-attempt limit; always applies. */
  readonly timeoutMs: number;
  readonly budget: RequestBudget;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  readonly retry?: Partial<RetryPolicy>;
  readonly random?: () => number;
}

export interface CallOptions {
  readonly lane: Lane;
  readonly signal?: AbortSignal | undefined;
  /** For the interactive lane: give up (ChatwootBusyError) if no answer within this many ms, queueing included. */
  readonly deadlineMs?: number | undefined;
  /** Retry retryable failures inside the call. Default: on, except for the interactive lane and for writes that may have been stored. */
  readonly retry?: boolean;
}

export interface NewMessage {
  /** CommonMark; Chatwoot converts it to WhatsApp formatting. */
  readonly content: string;
  readonly private?: boolean;
  /** Stored by Chatwoot as given and returned by every read: where the bridge carries its send id. */
  readonly contentAttributes?: Readonly<Record<string, unknown>>;
  /** An approved WhatsApp template: `{ name, language, category, processed_params }`; `content` is its rendered text. */
  readonly templateParams?: Readonly<Record<string, unknown>>;
  /** One file (WhatsApp takes one per message, `content` as its caption), streamed into `attachments[]`. */
  readonly attachment?: NewAttachment;
}

export interface NewAttachment {
  readonly fileName: string;
  readonly mimeType: string;
  /** Opens the file's bytes; called once per attempt, so nothing is held in memory. */
  readonly open: (signal?: AbortSignal) => Promise<ReadableStream<Uint8Array>>;
}

export interface NewContact {
  readonly inboxId: number;
  readonly name: string;
  /** E.164 with `+`; unique per account (a duplicate is a 422). */
  readonly phoneNumber: string;
}

export interface MessageRange {
  /** Alone: up to 100 messages newer than this id. With `before`: the range starts at this id (inclusive). */
  readonly after?: number;
  /** Messages with a smaller id. */
  readonly before?: number;
}

export type ConversationStatusFilter = 'open' | 'resolved' | 'pending' | 'snoozed' | 'all';

/** The Chatwoot REST calls the bridge makes, each response validated; every failure is a ChatwootError. */
export interface ChatwootClient {
  readonly accountId: number;
  apiInfo(options: CallOptions): Promise<ApiInfo>;
  profile(options: CallOptions): Promise<Profile>;
  listInboxes(options: CallOptions): Promise<Inbox[]>;
  getConversation(conversationId: number, options: CallOptions): Promise<Conversation>;
  /** One page (25) of conversations; `sourceId` filters by the contact's WhatsApp id (in Chatwoot's code since 2.17, not in its spec). */
  listConversations(
    filter: { inboxId?: number; sourceId?: string; status?: ConversationStatusFilter; page?: number },
    options: CallOptions,
  ): Promise<Conversation[]>;
  /** One page (15) of contacts matching name, email, phone or identifier. */
  searchContacts(query: string, page: number, options: CallOptions): Promise<{ contacts: Contact[]; hasMore: boolean }>;
  /** The contact's latest 20 conversations, all statuses. */
  listContactConversations(contactId: number, options: CallOptions): Promise<Conversation[]>;
  createMessage(conversationId: number, message: NewMessage, options: CallOptions): Promise<Message>;
  /** Chatwoot's paging: none → latest 20; before → 20 older; after → up to 100 newer; both → ids in [after, before), up to 1000. */
  listMessages(conversationId: number, range: MessageRange, options: CallOptions): Promise<Message[]>;
  setConversationStatus(
    conversationId: number,
    status: 'open' | 'resolved' | 'pending',
    options: CallOptions,
  ): Promise<void>;
  /** A contact linked to the inbox (its WhatsApp `source_id` is the number without `+`). */
  createContact(contact: NewContact, options: CallOptions): Promise<{ contactId: number }>;
  /** Links an existing contact to the inbox (find-or-create on Chatwoot's side). */
  createContactInbox(contactId: number, inboxId: number, options: CallOptions): Promise<void>;
  /** An open conversation with no message yet (with `lock_to_single_conversation`, Chatwoot returns the existing one). */
  createConversation(inboxId: number, contactId: number, options: CallOptions): Promise<Conversation>;
  /** Asks Chatwoot to re-read the inbox's templates from Meta (administrators only; asynchronous). */
  syncTemplates(inboxId: number, options: CallOptions): Promise<void>;
}

interface RequestSpec<S extends z.ZodType> {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly searchParams?: Readonly<Record<string, string | number>>;
  readonly json?: unknown;
  /** A multipart body, built per attempt (its file is streamed). */
  readonly multipart?: (signal?: AbortSignal) => Promise<{ body: ReadableStream<Uint8Array>; contentType: string }>;
  readonly schema: S;
  readonly subject?: string;
  readonly contactSearch?: boolean;
}

export function createChatwootClient(options: ChatwootClientOptions): ChatwootClient {
  const { accountId, budget, clock, logger } = options;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const random = options.random ?? Math.random;
  const http: KyInstance = ky.create({
    baseUrl: `${options.baseUrl}/`,
    headers: { api_access_token: options.apiAccessToken, accept: 'application/json' },
    timeout: options.timeoutMs,
    retry: 0,
    throwHttpErrors: false,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const account = `api/v1/accounts/${accountId}`;

  const call = async <S extends z.ZodType>(spec: RequestSpec<S>, callOptions: CallOptions): Promise<z.infer<S>> => {
    const endpoint = describeEndpoint(spec.path, spec.searchParams ?? {});
    const details = (extra: Partial<ChatwootErrorDetails> = {}): ChatwootErrorDetails => ({
      method: spec.method,
      endpoint,
      subject: spec.subject,
      ...extra,
    });
    const interactive = callOptions.lane === 'interactive';
    const deadline = interactive ? (callOptions.deadlineMs ?? 2_500) : undefined;
    const deadlineSignal = deadline === undefined ? undefined : AbortSignal.timeout(deadline);
    const signal = anySignal(callOptions.signal, deadlineSignal);
    const retry = callOptions.retry ?? !interactive;
    const firstAttemptAt = clock.now();

    for (let attempt = 1; ; attempt += 1) {
      const startedAt = clock.now();
      try {
        const result = await budget.run(callOptions.lane, (taskSignal) => attemptOnce(spec, details, taskSignal), {
          signal,
          contactSearch: spec.contactSearch === true,
        });
        logger.debug(
          { method: spec.method, endpoint, lane: callOptions.lane, attempt, ms: clock.now() - startedAt },
          'chatwoot request ok',
        );
        return result;
      } catch (thrown) {
        if (deadlineSignal?.aborted === true && callOptions.signal?.aborted !== true) {
          throw new ChatwootBusyError(deadline ?? 0, details({ cause: thrown }));
        }
        if (!(thrown instanceof ChatwootError)) throw thrown;
        const error = thrown;
        const now = clock.now();
        // A write that may have been stored is never repeated here: the caller reconciles first.
        const mayRetry = retry && error.retryable && !(error.ambiguous && spec.method !== 'GET');
        const delay =
          error instanceof ChatwootRateLimitedError
            ? nextWindowDelay(error.serverTime, now, random)
            : backoffDelay(attempt, policy, random);
        const elapsed = now - firstAttemptAt;
        if (error instanceof ChatwootRateLimitedError && error.scope === 'ip') budget.pauseUntil(now + delay);
        logger.warn(
          {
            err: error,
            method: spec.method,
            endpoint,
            lane: callOptions.lane,
            attempt,
            retryInMs: mayRetry ? delay : null,
          },
          'chatwoot request failed',
        );
        if (!mayRetry || attempt >= policy.maxAttempts || elapsed + delay > policy.maxTotalMs) throw error;
        await clock.sleep(delay, callOptions.signal);
      }
    }
  };

  const attemptOnce = async <S extends z.ZodType>(
    spec: RequestSpec<S>,
    details: (extra?: Partial<ChatwootErrorDetails>) => ChatwootErrorDetails,
    signal: AbortSignal | undefined,
  ): Promise<z.infer<S>> => {
    const isWrite = spec.method !== 'GET';
    let response: Response;
    try {
      const multipart = spec.multipart === undefined ? undefined : await spec.multipart(signal);
      response = await http(spec.path, {
        method: spec.method,
        ...(spec.searchParams === undefined ? {} : { searchParams: toSearchParams(spec.searchParams) }),
        ...(spec.json === undefined ? {} : { json: spec.json }),
        ...(multipart === undefined
          ? {}
          : { body: multipart.body, headers: { 'content-type': multipart.contentType }, duplex: 'half' }),
        ...(signal === undefined ? {} : { signal }),
      } as Parameters<KyInstance>[1]);
    } catch (thrown) {
      throw fromTransportError(thrown, isWrite, options.timeoutMs, details());
    }
    let body: unknown;
    try {
      const text = await response.text();
      body = parseBody(text, response.headers.get('content-type'));
    } catch (thrown) {
      // The status line arrived, so a 2xx write was stored; only its body is lost.
      throw fromTransportError(thrown, isWrite, options.timeoutMs, details());
    }
    if (!response.ok) throw fromStatus(response, body, isWrite, accountId, details());
    const parsed = spec.schema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
      throw new ChatwootResponseError(issues, details({ status: response.status }));
    }
    return parsed.data;
  };

  return {
    accountId,
    apiInfo: (callOptions) => call({ method: 'GET', path: 'api', schema: apiInfoSchema }, callOptions),
    profile: (callOptions) => call({ method: 'GET', path: 'api/v1/profile', schema: profileSchema }, callOptions),
    listInboxes: async (callOptions) =>
      (
        await call(
          { method: 'GET', path: `${account}/inboxes`, schema: inboxListSchema, subject: 'inboxes' },
          callOptions,
        )
      ).payload,
    getConversation: (conversationId, callOptions) =>
      call(
        {
          method: 'GET',
          path: `${account}/conversations/${conversationId}`,
          schema: conversationSchema,
          subject: `conversation ${conversationId}`,
        },
        callOptions,
      ),
    listConversations: async (filter, callOptions) => {
      const searchParams: Record<string, string | number> = { status: filter.status ?? 'all' };
      if (filter.inboxId !== undefined) searchParams['inbox_id'] = filter.inboxId;
      if (filter.sourceId !== undefined) searchParams['source_id'] = filter.sourceId;
      if (filter.page !== undefined && filter.page > 1) searchParams['page'] = filter.page;
      const result = await call(
        { method: 'GET', path: `${account}/conversations`, searchParams, schema: conversationListSchema },
        callOptions,
      );
      return result.data.payload;
    },
    searchContacts: async (query, page, callOptions) => {
      const result = await call(
        {
          method: 'GET',
          path: `${account}/contacts/search`,
          searchParams: page > 1 ? { q: query, page } : { q: query },
          schema: contactSearchSchema,
          contactSearch: true,
        },
        callOptions,
      );
      return { contacts: result.payload, hasMore: result.meta?.has_more ?? result.payload.length >= 15 };
    },
    listContactConversations: async (contactId, callOptions) =>
      (
        await call(
          {
            method: 'GET',
            path: `${account}/contacts/${contactId}/conversations`,
            schema: contactConversationsSchema,
            subject: `contact ${contactId}`,
          },
          callOptions,
        )
      ).payload,
    createMessage: (conversationId, message, callOptions) => {
      const attachment = message.attachment;
      const fields = {
        content: message.content,
        message_type: 'outgoing',
        private: message.private ?? false,
        ...(message.contentAttributes === undefined ? {} : { content_attributes: message.contentAttributes }),
        ...(message.templateParams === undefined ? {} : { template_params: message.templateParams }),
      };
      return call(
        {
          method: 'POST',
          path: `${account}/conversations/${conversationId}/messages`,
          ...(attachment === undefined
            ? { json: fields }
            : { multipart: (signal?: AbortSignal) => multipartBody(fields, attachment, signal) }),
          schema: messageSchema,
          subject: `conversation ${conversationId}`,
        },
        callOptions,
      );
    },
    listMessages: async (conversationId, range, callOptions) => {
      const searchParams: Record<string, number> = {};
      if (range.after !== undefined) searchParams['after'] = range.after;
      if (range.before !== undefined) searchParams['before'] = range.before;
      return (
        await call(
          {
            method: 'GET',
            path: `${account}/conversations/${conversationId}/messages`,
            searchParams,
            schema: messageListSchema,
            subject: `conversation ${conversationId}`,
          },
          callOptions,
        )
      ).payload;
    },
    setConversationStatus: async (conversationId, status, callOptions) => {
      await call(
        {
          method: 'POST',
          path: `${account}/conversations/${conversationId}/toggle_status`,
          json: { status },
          schema: toggleStatusSchema,
          subject: `conversation ${conversationId}`,
        },
        // Setting a status twice is harmless, so this write may be retried.
        { ...callOptions, retry: callOptions.retry ?? callOptions.lane !== 'interactive' },
      );
    },
    createContact: async (contact, callOptions) => {
      const result = await call(
        {
          method: 'POST',
          path: `${account}/contacts`,
          json: { inbox_id: contact.inboxId, name: contact.name, phone_number: contact.phoneNumber },
          schema: createContactSchema,
          subject: 'contact',
        },
        callOptions,
      );
      return { contactId: result.payload.contact.id };
    },
    createContactInbox: async (contactId, inboxId, callOptions) => {
      await call(
        {
          method: 'POST',
          path: `${account}/contacts/${contactId}/contact_inboxes`,
          json: { inbox_id: inboxId },
          schema: contactInboxSchema,
          subject: `contact ${contactId}`,
        },
        // Find-or-create: repeating it is harmless.
        { ...callOptions, retry: callOptions.retry ?? callOptions.lane !== 'interactive' },
      );
    },
    createConversation: (inboxId, contactId, callOptions) =>
      call(
        {
          method: 'POST',
          path: `${account}/conversations`,
          json: { inbox_id: inboxId, contact_id: contactId, status: 'open' },
          schema: conversationSchema,
          subject: `contact ${contactId}`,
        },
        callOptions,
      ),
    syncTemplates: async (inboxId, callOptions) => {
      await call(
        {
          method: 'POST',
          path: `${account}/inboxes/${inboxId}/sync_templates`,
          json: {},
          schema: z.unknown(),
          subject: `inbox ${inboxId}`,
        },
        { ...callOptions, retry: callOptions.retry ?? callOptions.lane !== 'interactive' },
      );
    },
  };
}

/**
 * `multipart/form-data` as Rails reads it: the message's fields (nested values as JSON strings, which Chatwoot's
 * MessageBuilder parses) and the file as `attachments[]`, whose bytes are piped through as they arrive.
 */
async function multipartBody(
  fields: Readonly<Record<string, unknown>>,
  attachment: NewAttachment,
  signal: AbortSignal | undefined,
): Promise<{ body: ReadableStream<Uint8Array>; contentType: string }> {
  const boundary = `----slack-whatsapp-bridge-${randomUUID()}`;
  const encoder = new TextEncoder();
  const quote = (value: string) => value.replace(/["\r\n]/g, (ch) => encodeURIComponent(ch));
  let head = '';
  for (const [name, value] of Object.entries(fields)) {
    const text = typeof value === 'string' ? value : typeof value === 'boolean' ? String(value) : JSON.stringify(value);
    head += `--${boundary}\r\ncontent-disposition: form-data; name="${quote(name)}"\r\n\r\n${text}\r\n`;
  }
  head += `--${boundary}\r\ncontent-disposition: form-data; name="attachments[]"; filename="${quote(attachment.fileName)}"\r\ncontent-type: ${attachment.mimeType}\r\n\r\n`;
  const file = await attachment.open(signal);
  const reader = file.getReader();
  let stage: 'head' | 'file' | 'done' = 'head';
  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (stage === 'head') {
        controller.enqueue(encoder.encode(head));
        stage = 'file';
        return;
      }
      if (stage === 'file') {
        const { done, value } = await reader.read();
        if (!done) {
          controller.enqueue(value);
          return;
        }
        controller.enqueue(encoder.encode(`\r\n--${boundary}--\r\n`));
        stage = 'done';
        controller.close();
      }
    },
    cancel: async (reason) => {
      await reader.cancel(reason);
    },
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  if (contentType?.includes('json') === true) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** Query values that may be a phone number, a name or an email: kept out of logs and error messages. */
const PERSONAL_PARAMS = new Set(['q', 'source_id']);

/** The request as logs and errors show it: path and query, personal values redacted (the token is a header). */
function describeEndpoint(path: string, params: Readonly<Record<string, string | number>>): string {
  const shown = Object.fromEntries(
    Object.entries(params).map(([key, value]) => [key, PERSONAL_PARAMS.has(key) ? '***' : value]),
  );
  const query = toSearchParams(shown).toString();
  return `/${path}${query === '' ? '' : `?${query.replaceAll('%2A', '*')}`}`;
}

function toSearchParams(params: Readonly<Record<string, string | number>>): URLSearchParams {
  return new URLSearchParams(Object.entries(params).map(([key, value]): [string, string] => [key, String(value)]));
}

function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const present = signals.filter((signal) => signal !== undefined);
  if (present.length === 0) return undefined;
  return present.length === 1 ? present[0] : AbortSignal.any(present);
}
