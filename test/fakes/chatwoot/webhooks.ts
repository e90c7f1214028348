import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { cloneJson, isoTime, present, RecordInvalid, railsJson, seconds } from './ruby.ts';
import { type ChatwootStore, type ConversationRecord, MESSAGE_TYPES, type MessageRecord } from './store.ts';
import { TimerRegistry } from './timers.ts';
import type {
  ConversationStatus,
  FakeChatwootEvents,
  FakeWebhookDelivery,
  FakeWebhookOptions,
  FakeWebhookRequest,
  WebhookEventName,
  WebhookRequestOptions,
} from './types.ts';
import type { Views } from './views.ts';

/** `Webhook::ALLOWED_WEBHOOK_EVENTS`. */
export const ALLOWED_WEBHOOK_EVENTS: readonly WebhookEventName[] = [
  'conversation_status_changed',
  'conversation_updated',
  'conversation_created',
  'contact_created',
  'contact_updated',
  'message_created',
  'message_updated',
  'webwidget_triggered',
  'inbox_created',
  'inbox_updated',
  'conversation_typing_on',
  'conversation_typing_off',
];
/** The `subscriptions` column default (db/schema.rb), used when the API is given none. */
export const DEFAULT_WEBHOOK_SUBSCRIPTIONS: readonly WebhookEventName[] = ALLOWED_WEBHOOK_EVENTS.slice(0, 8);
/** The events this fake produces; the others are accepted as subscriptions but never fire. */
export type DeliveredEvent =
  | 'message_created'
  | 'message_updated'
  | 'conversation_created'
  | 'conversation_status_changed';

/** `SecureRandom.base58`, which `has_secure_token` uses (24 characters). */
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
/** Net::HTTP's own request headers. */
const RUBY_CLIENT_HEADERS = { 'Accept-Encoding': 'gzip;q=1.0,deflate;q=0.6,identity;q=0.3', 'User-Agent': 'Ruby' };
/** Signing and `X-Chatwoot-Delivery` arrived in v4.11.2. */
const SIGNED_SINCE = [4, 11, 2] as const;

export interface WebhookRecord {
  id: number;
  accountId: number;
  inboxId: number | null;
  name: string | null;
  url: string | null;
  /** jsonb: whatever the API stored (validated to be a non-empty array of allowed event names). */
  subscriptions: unknown;
  secret: string;
  createdAt: number;
  updatedAt: number;
}

export interface WebhookAttributes {
  url?: string | null;
  name?: string | null;
  inboxId?: number | null;
  subscriptions?: unknown;
}

/** The Webhook model: validations, `has_secure_token :secret`, the unique (account_id, url) index. */
export class WebhookRegistry {
  readonly records = new Map<number, WebhookRecord>();
  /** Called after a webhook is created or destroyed. */
  onChange: (() => void) | undefined;
  private readonly now: () => number;
  private nextId = 1;

  constructor(now: () => number) {
    this.now = now;
  }

  create(accountId: number, attributes: WebhookAttributes, secret?: string): WebhookRecord {
    const at = this.now();
    const record: WebhookRecord = {
      id: 0,
      accountId,
      inboxId: attributes.inboxId ?? null,
      name: attributes.name ?? null,
      url: attributes.url ?? null,
      subscriptions:
        attributes.subscriptions === undefined ? [...DEFAULT_WEBHOOK_SUBSCRIPTIONS] : attributes.subscriptions,
      // has_secure_token only generates a token when none was assigned.
      secret: secret !== undefined && present(secret) ? secret : secureToken(),
      createdAt: at,
      updatedAt: at,
    };
    this.validate(record);
    record.id = this.nextId++;
    this.records.set(record.id, record);
    this.onChange?.();
    return record;
  }

  update(record: WebhookRecord, attributes: WebhookAttributes): void {
    const candidate: WebhookRecord = { ...record, ...attributes };
    this.validate(candidate);
    Object.assign(record, candidate, { updatedAt: this.now() });
  }

  destroy(id: number): boolean {
    const existed = this.records.delete(id);
    if (existed) this.onChange?.();
    return existed;
  }

  forAccount(accountId: number): WebhookRecord[] {
    return [...this.records.values()].filter((w) => w.accountId === accountId).sort((a, b) => a.id - b.id);
  }

  /** Validations in declaration order: url uniqueness, url format, subscriptions. */
  private validate(record: WebhookRecord): void {
    const errors: Array<[string, string]> = [];
    const taken = [...this.records.values()].some(
      (other) => other.id !== record.id && other.accountId === record.accountId && other.url === record.url,
    );
    if (taken) errors.push(['url', 'has already been taken']);
    // `URI::DEFAULT_PARSER.make_regexp(%w[http https])` is unanchored: any text containing `http:`/`https:` passes.
    if (!/https?:/.test(record.url ?? '')) errors.push(['url', 'is invalid']);
    const subscriptions = record.subscriptions;
    const valid =
      Array.isArray(subscriptions) &&
      subscriptions.length > 0 &&
      subscriptions.every((s) => typeof s === 'string' && (ALLOWED_WEBHOOK_EVENTS as readonly string[]).includes(s));
    if (!valid) errors.push(['subscriptions', 'Invalid events']);
    if (errors.length > 0) throw new RecordInvalid(errors);
  }
}

function secureToken(): string {
  let token = '';
  for (let i = 0; i < 24; i += 1) token += BASE58[randomInt(BASE58.length)];
  return token;
}

/** `Messages::WebhookContentNormalizer.normalize`: hard line breaks become newlines, trailing newlines go. */
export function normalizeWebhookContent(text: string | null): string | null {
  if (text === null || text.trim() === '') return text;
  return text.replace(/\\\r?\n/g, '\n').replace(/(?:\r?\n)+$/, '');
}

/** The `*_webhook_data` payloads of `app/listeners/webhook_listener.rb`. */
export class WebhookPayloads {
  private readonly store: ChatwootStore;
  private readonly views: Views;
  /** `contact_inboxes.pubsub_token` (has_secure_token), stable per contact inbox. */
  private readonly pubsubTokens = new Map<number, string>();

  constructor(store: ChatwootStore, views: Views) {
    this.store = store;
    this.views = views;
  }

  /** `Message#webhook_data.merge(event:)`, or null when `webhook_sendable?` is false (activity messages). */
  message(message: MessageRecord, event: 'message_created' | 'message_updated'): Record<string, unknown> | null {
    if (message.messageType === 2) return null;
    const account = this.store.requireAccount(message.accountId);
    const inbox = this.store.requireInbox(message.inboxId);
    const conversation = this.store.conversations.get(message.conversationDbId);
    const data: Record<string, unknown> = {
      account: { id: account.id, name: account.name },
      additional_attributes: cloneJson(message.additionalAttributes),
      content_attributes: cloneJson(message.contentAttributes),
      content_type: message.contentType,
      content: normalizeWebhookContent(message.content),
      conversation: conversation ? this.conversationData(conversation) : null,
      created_at: isoTime(message.createdAt),
      id: message.id,
      inbox: { id: inbox.id, name: inbox.name },
      message_type: MESSAGE_TYPES[message.messageType],
      private: message.private,
      sender: this.senderData(message),
      source_id: message.sourceId,
    };
    if (message.attachments.length > 0) data['attachments'] = message.attachments.map((a) => this.views.attachment(a));
    data['event'] = event;
    return data;
  }

  /** `conversation.webhook_data.merge(event:)`, plus `changed_attributes` for status changes. */
  conversation(
    conversation: ConversationRecord,
    event: 'conversation_created' | 'conversation_status_changed',
    previousStatus?: ConversationStatus,
  ): Record<string, unknown> {
    const data = this.conversationData(conversation);
    data['event'] = event;
    if (event === 'conversation_status_changed') {
      data['changed_attributes'] = [
        { status: { previous_value: previousStatus ?? conversation.status, current_value: conversation.status } },
      ];
    }
    return data;
  }

  /** `Conversations::EventDataPresenter#webhook_data` (the SLA additions are an enterprise feature, off here). */
  private conversationData(conversation: ConversationRecord): Record<string, unknown> {
    const account = this.store.requireAccount(conversation.accountId);
    const inbox = this.store.requireInbox(conversation.inboxId);
    const contact = this.store.requireContact(conversation.contactId);
    const contactInbox = this.store.contactInboxes.get(conversation.contactInboxId);
    // `messages.chat.last`: the latest message that is neither an activity nor private.
    const last = this.store
      .conversationMessages(conversation)
      .filter((m) => m.messageType !== 2 && !m.private)
      .at(-1);
    const assignee = conversation.assigneeId === null ? undefined : this.store.users.get(conversation.assigneeId);
    return {
      additional_attributes: cloneJson(conversation.additionalAttributes),
      can_reply: this.store.canReply(conversation),
      channel: inbox.channelType,
      contact_inbox: contactInbox
        ? {
            id: contactInbox.id,
            contact_id: contactInbox.contactId,
            inbox_id: contactInbox.inboxId,
            source_id: contactInbox.sourceId,
            created_at: isoTime(contactInbox.createdAt),
            updated_at: isoTime(contactInbox.createdAt),
            hmac_verified: contactInbox.hmacVerified,
            pubsub_token: this.pubsubToken(contactInbox.id),
          }
        : null,
      id: conversation.displayId,
      inbox_id: conversation.inboxId,
      messages: last ? [this.messagePushData(last)] : [],
      labels: [...conversation.labels],
      meta: {
        sender: this.views.contactPushData(contact),
        assignee: assignee ? this.views.userPushData(assignee, conversation.accountId) : null,
        assignee_type: conversation.assigneeId === null ? null : 'User',
        team: null,
        hmac_verified: contactInbox?.hmacVerified ?? null,
      },
      status: conversation.status,
      custom_attributes: cloneJson(conversation.customAttributes),
      snoozed_until: isoTime(conversation.snoozedUntil),
      unread_count: this.store.unreadCount(conversation),
      first_reply_created_at: isoTime(conversation.firstReplyCreatedAt),
      priority: conversation.priority,
      waiting_since: seconds(conversation.waitingSince),
      agent_last_seen_at: seconds(conversation.agentLastSeenAt),
      contact_last_seen_at: seconds(conversation.contactLastSeenAt),
      last_activity_at: seconds(conversation.lastActivityAt),
      timestamp: seconds(conversation.lastActivityAt),
      created_at: seconds(conversation.createdAt),
      updated_at: conversation.updatedAt / 1000,
      account: { id: account.id, name: account.name },
    };
  }

  /** `Message#webhook_push_event_data`: push_event_data (integer message_type, epoch created_at, status) normalized. */
  private messagePushData(message: MessageRecord): Record<string, unknown> {
    const data = this.views.messagePushEventData(message);
    data['content'] = normalizeWebhookContent(message.content);
    const processed = data['processed_message_content'];
    data['processed_message_content'] = typeof processed === 'string' ? normalizeWebhookContent(processed) : null;
    return data;
  }

  /** `sender.try(:webhook_data)`: Contact (no `type`), User or AgentBot. */
  private senderData(message: MessageRecord): Record<string, unknown> | null {
    const sender = message.sender;
    if (!sender) return null;
    if (sender.type === 'User') {
      const user = this.store.users.get(sender.id);
      return user ? { id: user.id, name: user.name, email: user.email, type: 'user' } : null;
    }
    if (sender.type === 'AgentBot') {
      const bot = this.store.bots.get(sender.id);
      return bot ? { id: bot.id, name: bot.name, type: 'agent_bot' } : null;
    }
    const contact = this.store.contacts.get(sender.id);
    if (!contact) return null;
    const account = this.store.requireAccount(contact.accountId);
    return {
      account: { id: account.id, name: account.name },
      additional_attributes: cloneJson(contact.additionalAttributes),
      avatar: '',
      custom_attributes: cloneJson(contact.customAttributes),
      email: contact.email,
      id: contact.id,
      identifier: contact.identifier,
      name: contact.name,
      phone_number: contact.phoneNumber,
      thumbnail: '',
      blocked: contact.blocked,
    };
  }

  private pubsubToken(contactInboxId: number): string {
    let token = this.pubsubTokens.get(contactInboxId);
    if (token === undefined) {
      token = secureToken();
      this.pubsubTokens.set(contactInboxId, token);
    }
    return token;
  }
}

/** The headers `Webhooks::Trigger#request_headers` sends (signature over `"#{ts}.#{body}"`). */
export function webhookHeaders(
  body: string,
  signing: { secret: string; deliveryId: string; timestamp: number } | null,
): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (signing) {
    const ts = String(signing.timestamp);
    headers['X-Chatwoot-Delivery'] = signing.deliveryId;
    headers['X-Chatwoot-Timestamp'] = ts;
    headers['X-Chatwoot-Signature'] =
      `sha256=${createHmac('sha256', signing.secret).update(`${ts}.${body}`).digest('hex')}`;
  }
  return { ...headers, ...RUBY_CLIENT_HEADERS };
}

/** Holds the deliveries of events raised while a request is served until its response has gone out. */
interface Gate {
  released: boolean;
}

interface QueuedDelivery {
  webhookId: number;
  url: string;
  secret: string;
  event: string;
  deliveryId: string;
  rawBody: string;
  gate: Gate | null;
}

/** A failure Chatwoot would log as `Exception: Invalid webhook URL <url> : <message>`. */
class DeliveryFailure extends Error {
  override name = 'DeliveryFailure';
}

type Listener<K extends keyof FakeChatwootEvents> = (...args: FakeChatwootEvents[K]) => void;

/**
 * WebhookListener#deliver_account_webhooks + WebhookJob + Webhooks::Trigger: every account webhook subscribed to
 * the event gets a POST (all inboxes, no inbox filter), one at a time per webhook, no retries.
 */
export class WebhookSender {
  private readonly store: ChatwootStore;
  private readonly registry: WebhookRegistry;
  private readonly payloads: WebhookPayloads;
  private readonly version: () => string;
  private readonly onInternalError: (error: unknown) => void;
  private readonly logLimit: number;
  private options: Required<FakeWebhookOptions>;
  private readonly timers = new TimerRegistry();
  private readonly queues = new Map<number, QueuedDelivery[]>();
  private readonly draining = new Set<number>();
  private readonly inFlight = new Set<ClientRequest>();
  private readonly log: FakeWebhookDelivery[] = [];
  /** The secret each delivery was signed with, for byte-exact replays after a rotation. */
  private readonly secrets = new Map<string, string>();
  private currentGate: Gate | null = null;
  private idleWaiters: Array<() => void> = [];
  private paused = false;
  private closed = false;
  private subscribed = false;
  private readonly listeners: {
    message_created: Listener<'message_created'>;
    message_updated: Listener<'message_updated'>;
    conversation_created: Listener<'conversation_created'>;
    conversation_status_changed: Listener<'conversation_status_changed'>;
  };

  constructor(init: {
    store: ChatwootStore;
    registry: WebhookRegistry;
    payloads: WebhookPayloads;
    version: () => string;
    options: FakeWebhookOptions | undefined;
    /** Oldest deliveries are forgotten beyond this many. */
    logLimit: number;
    onInternalError: (error: unknown) => void;
  }) {
    this.store = init.store;
    this.registry = init.registry;
    this.payloads = init.payloads;
    this.version = init.version;
    this.onInternalError = init.onInternalError;
    this.logLimit = init.logLimit;
    this.options = { timeoutMs: 5000, delayMs: 0, refusePrivateTargets: false, ...init.options };
    this.listeners = {
      message_created: ({ message }) => this.onMessage('message_created', message.id),
      message_updated: ({ message }) => this.onMessage('message_updated', message.id),
      conversation_created: ({ conversation }) =>
        this.onConversation('conversation_created', conversation.accountId, conversation.id),
      conversation_status_changed: ({ conversation, previousStatus }) =>
        this.onConversation('conversation_status_changed', conversation.accountId, conversation.id, previousStatus),
    };
    this.registry.onChange = () => this.syncListeners();
  }

  setOptions(options: FakeWebhookOptions): void {
    this.options = { ...this.options, ...options };
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  deliveries(): FakeWebhookDelivery[] {
    return this.log.map((entry) => ({ ...entry, headers: { ...entry.headers }, body: cloneJson(entry.body) }));
  }

  clearDeliveries(): void {
    this.log.length = 0;
    this.secrets.clear();
  }

  /** Starts holding the events raised from now on (until `endCapture`) for `release`. */
  capture(): Gate {
    const gate: Gate = { released: false };
    this.currentGate = gate;
    return gate;
  }

  endCapture(gate: Gate): void {
    if (this.currentGate === gate) this.currentGate = null;
  }

  release(gate: Gate): void {
    this.endCapture(gate);
    if (gate.released) return;
    gate.released = true;
    for (const [webhookId, queue] of this.queues) if (queue.length > 0) this.drain(webhookId);
  }

  /** Resolves when nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Headers and body for re-sending a delivery (byte for byte unless overridden) or a payload. */
  request(
    source: FakeWebhookDelivery | Record<string, unknown>,
    options: WebhookRequestOptions,
    fallback: WebhookRecord | undefined,
  ): FakeWebhookRequest {
    if (isDelivery(source)) {
      const secret =
        options.secret ?? this.secrets.get(source.deliveryId) ?? this.registry.records.get(source.webhookId)?.secret;
      if (secret === undefined) throw new Error(`webhook ${source.webhookId} no longer exists: pass { secret }`);
      const signing = {
        secret,
        deliveryId: options.deliveryId ?? source.deliveryId,
        timestamp: options.timestamp ?? source.timestamp,
      };
      return { url: source.url, headers: webhookHeaders(source.rawBody, signing), body: source.rawBody };
    }
    const secret = options.secret ?? fallback?.secret;
    if (secret === undefined) throw new Error('no webhook to sign with: add one or pass { secret }');
    const body = railsJson(source);
    const signing = {
      secret,
      deliveryId: options.deliveryId ?? randomUUID(),
      timestamp: options.timestamp ?? Math.floor(this.store.now() / 1000),
    };
    return { url: fallback?.url ?? null, headers: webhookHeaders(body, signing), body };
  }

  close(): void {
    this.closed = true;
    this.timers.clearAll();
    for (const request of this.inFlight) request.destroy(new DeliveryFailure('the fake Chatwoot closed'));
    this.queues.clear();
    this.unsubscribe();
    this.settle();
  }

  // ---- listening (only while a webhook exists: event snapshots are not free on large stores)

  private syncListeners(): void {
    if (this.registry.records.size > 0 && !this.subscribed && !this.closed) {
      this.subscribed = true;
      this.store.events.on('message_created', this.listeners.message_created);
      this.store.events.on('message_updated', this.listeners.message_updated);
      this.store.events.on('conversation_created', this.listeners.conversation_created);
      this.store.events.on('conversation_status_changed', this.listeners.conversation_status_changed);
    } else if (this.registry.records.size === 0) {
      this.unsubscribe();
    }
  }

  private unsubscribe(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.store.events.off('message_created', this.listeners.message_created);
    this.store.events.off('message_updated', this.listeners.message_updated);
    this.store.events.off('conversation_created', this.listeners.conversation_created);
    this.store.events.off('conversation_status_changed', this.listeners.conversation_status_changed);
  }

  private onMessage(event: 'message_created' | 'message_updated', messageId: number): void {
    this.guard(() => {
      const message = this.store.messages.get(messageId);
      if (message) this.enqueue(message.accountId, event, () => this.payloads.message(message, event));
    });
  }

  private onConversation(
    event: 'conversation_created' | 'conversation_status_changed',
    accountId: number,
    displayId: number,
    previousStatus?: ConversationStatus,
  ): void {
    this.guard(() => {
      const conversation = [...this.store.conversations.values()].find(
        (c) => c.accountId === accountId && c.displayId === displayId,
      );
      if (conversation) {
        this.enqueue(accountId, event, () => this.payloads.conversation(conversation, event, previousStatus));
      }
    });
  }

  /** A bug here must not break the request that raised the event: it is reported by `close()`. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.onInternalError(error);
    }
  }

  /** The payload is built now (the state at the event), serialized once and queued per subscribed webhook. */
  private enqueue(accountId: number, event: DeliveredEvent, build: () => Record<string, unknown> | null): void {
    if (this.closed) return;
    const targets = this.registry
      .forAccount(accountId)
      .filter((w) => Array.isArray(w.subscriptions) && w.subscriptions.includes(event));
    if (targets.length === 0) return;
    const payload = build();
    if (!payload) return;
    const rawBody = railsJson(payload);
    for (const webhook of targets) {
      const queue = this.queues.get(webhook.id) ?? [];
      this.queues.set(webhook.id, queue);
      queue.push({
        webhookId: webhook.id,
        url: webhook.url ?? '',
        secret: webhook.secret,
        event,
        deliveryId: randomUUID(),
        rawBody,
        gate: this.currentGate,
      });
      if (!this.currentGate) this.drain(webhook.id);
    }
  }

  /** Sends one webhook's queue in order; stops at an item whose request has not been answered yet. */
  private drain(webhookId: number): void {
    if (this.draining.has(webhookId) || this.closed) return;
    this.draining.add(webhookId);
    const run = async () => {
      const queue = this.queues.get(webhookId) ?? [];
      while (!this.closed) {
        const next = queue[0];
        if (!next || (next.gate && !next.gate.released)) break;
        queue.shift();
        if (this.options.delayMs > 0 && !(await this.timers.sleep(this.options.delayMs))) break;
        await this.deliver(next);
      }
    };
    run()
      .catch((error: unknown) => this.onInternalError(error))
      .finally(() => {
        this.draining.delete(webhookId);
        this.settle();
      });
  }

  private async deliver(item: QueuedDelivery): Promise<void> {
    const now = this.store.now();
    const timestamp = Math.floor(now / 1000);
    const signing = this.signs() ? { secret: item.secret, deliveryId: item.deliveryId, timestamp } : null;
    const entry: FakeWebhookDelivery = {
      webhookId: item.webhookId,
      url: item.url,
      event: item.event,
      deliveryId: item.deliveryId,
      status: 'pending',
      ok: false,
      error: null,
      at: now,
      timestamp,
      headers: webhookHeaders(item.rawBody, signing),
      rawBody: item.rawBody,
      body: JSON.parse(item.rawBody) as Record<string, unknown>,
    };
    this.log.push(entry);
    this.secrets.set(item.deliveryId, item.secret);
    for (const forgotten of this.log.splice(0, Math.max(0, this.log.length - this.logLimit))) {
      this.secrets.delete(forgotten.deliveryId);
    }
    if (this.paused) {
      entry.status = 'dropped';
      entry.error = 'webhooks paused: dropped (Chatwoot never retries)';
      return;
    }
    try {
      const target = await this.target(item.url);
      const response = await this.post(target, entry.headers, item.rawBody);
      entry.status = response.status;
      entry.ok = response.status >= 200 && response.status < 300;
      // SafeFetch::HttpError "#{response.code} #{response.message}".
      entry.error = entry.ok ? null : `${response.status} ${response.statusMessage}`;
    } catch (error) {
      entry.status = 'error';
      entry.error = error instanceof Error ? error.message : String(error);
    }
  }

  private signs(): boolean {
    const parts = this.version()
      .split('.')
      .map((p) => Number.parseInt(p, 10) || 0);
    for (let i = 0; i < SIGNED_SINCE.length; i += 1) {
      const have = parts[i] ?? 0;
      const need = SIGNED_SINCE[i] ?? 0;
      if (have !== need) return have > need;
    }
    return true;
  }

  /** SsrfFilter's URL checks (scheme, and private addresses unless SAFE_FETCH_ALLOW_PRIVATE_NETWORK). */
  private async target(url: string): Promise<URL> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DeliveryFailure(`bad URI (is not URI?): ${JSON.stringify(url)}`);
    }
    const scheme = parsed.protocol.slice(0, -1);
    if (scheme !== 'http' && scheme !== 'https') {
      throw new DeliveryFailure(`URI scheme '${scheme}' not in whitelist: ["https", "http"]`);
    }
    if (this.options.refusePrivateTargets) {
      const host = parsed.hostname.replace(/^\[|\]$/g, '');
      const addresses =
        isIP(host) !== 0
          ? [host]
          : (await lookup(host, { all: true }).catch(() => [])).map((address) => address.address);
      if (addresses.length === 0) throw new DeliveryFailure(`Could not resolve hostname '${host}'`);
      if (addresses.every(isPrivateAddress)) throw new DeliveryFailure(`Hostname '${host}' has no public ip addresses`);
    }
    return parsed;
  }

  private post(
    url: URL,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; statusMessage: string }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        reject(new DeliveryFailure(rubyErrorMessage(error, url)));
      };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(url, {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        agent: false,
        // Net::HTTP open_timeout and read_timeout (WEBHOOK_TIMEOUT): both are idle timeouts.
        timeout: this.options.timeoutMs,
      });
      this.inFlight.add(request);
      request.on('timeout', () => request.destroy(new DeliveryFailure('Net::ReadTimeout with #<TCPSocket:(closed)>')));
      request.on('error', fail);
      request.on('response', (response) => {
        response.on('error', fail);
        response.on('end', () => {
          if (settled) return;
          settled = true;
          resolve({ status: response.statusCode ?? 0, statusMessage: response.statusMessage ?? '' });
        });
        response.resume();
      });
      request.on('close', () => {
        this.inFlight.delete(request);
        fail(new DeliveryFailure('end of file reached'));
      });
      request.end(body);
    });
  }

  private isIdle(): boolean {
    if (this.closed) return true;
    if (this.draining.size > 0) return false;
    for (const queue of this.queues.values()) if (queue.length > 0) return false;
    return true;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function isDelivery(value: FakeWebhookDelivery | Record<string, unknown>): value is FakeWebhookDelivery {
  return typeof value['deliveryId'] === 'string' && typeof value['rawBody'] === 'string' && 'webhookId' in value;
}

/** What Net::HTTP would have raised, as Chatwoot logs it. */
function rubyErrorMessage(error: Error, url: URL): string {
  if (error instanceof DeliveryFailure) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (code === 'ECONNREFUSED') {
    return `Failed to open TCP connection to ${host}:${port} (Connection refused - connect(2) for "${host}" port ${port})`;
  }
  if (error.message === 'socket hang up') return 'end of file reached';
  if (code === 'ECONNRESET') return 'Connection reset by peer';
  return error.message;
}

/** SsrfFilter's IPv4/IPv6 blacklists. */
const PRIVATE_RANGES = (() => {
  const list = new BlockList();
  const v4: Array<[string, number]> = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 29],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  for (const [address, prefix] of v4) list.addSubnet(address, prefix, 'ipv4');
  const v6: Array<[string, number]> = [
    ['::1', 128],
    ['::', 128],
    ['64:ff9b::', 96],
    ['100::', 64],
    ['2001::', 32],
    ['2001:10::', 28],
    ['2001:db8::', 32],
    ['2002::', 16],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
  ];
  for (const [address, prefix] of v6) list.addSubnet(address, prefix, 'ipv6');
  return list;
})();

function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return PRIVATE_RANGES.check(mapped, 'ipv4');
  return PRIVATE_RANGES.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}
