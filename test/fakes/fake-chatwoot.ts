import { randomBytes, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type ApiResponse, type AuthOutcome, ChatwootApi, type ServiceStatus } from './chatwoot/api.ts';
import { DeliverySimulator } from './chatwoot/delivery.ts';
import { type FaultHandle, FaultQueue, type FaultSpec, faultResponse } from './chatwoot/faults.ts';
import { flatQuery, parseBody } from './chatwoot/params.ts';
import { clientIp, RackAttack } from './chatwoot/rack-attack.ts';
import { present } from './chatwoot/ruby.ts';
import { ChatwootStore, type ContactRecord } from './chatwoot/store.ts';
import { TimerRegistry } from './chatwoot/timers.ts';
import type {
  AccountStatus,
  ConversationStatus,
  FakeAccount,
  FakeAgentBot,
  FakeChatwootEvents,
  FakeChatwootOptions,
  FakeContact,
  FakeContactInbox,
  FakeContactInit,
  FakeConversation,
  FakeConversationInit,
  FakeInbox,
  FakeInboxInit,
  FakeMessage,
  FakeUser,
  FakeWebhook,
  FakeWebhookDelivery,
  FakeWebhookInit,
  FakeWebhookOptions,
  FakeWebhookRequest,
  IncomingMessageInit,
  MessageStatus,
  MessageTemplate,
  OutgoingMessageInit,
  Role,
  WebhookRequestOptions,
} from './chatwoot/types.ts';
import { Views } from './chatwoot/views.ts';
import {
  type DeliveredEvent,
  WebhookPayloads,
  type WebhookRecord,
  WebhookRegistry,
  WebhookSender,
} from './chatwoot/webhooks.ts';

export {
  META_INVALID_PARAMETER_ERROR,
  META_TEMPLATE_MISSING_ERROR,
  META_TEMPLATE_PARAMS_ERROR,
  META_TEXT_BODY_REQUIRED_ERROR,
  TEMPLATE_NOT_FOUND_ERROR,
  TWILIO_OUTSIDE_WINDOW_ERROR,
  TWILIO_TEMPLATE_NOT_FOUND_ERROR,
} from './chatwoot/delivery.ts';
export type { FaultHandle, FaultMatcher, FaultSpec } from './chatwoot/faults.ts';
export type * from './chatwoot/types.ts';
export { ALLOWED_WEBHOOK_EVENTS, normalizeWebhookContent } from './chatwoot/webhooks.ts';
export type { ServiceStatus };

/** One request as the fake received it. */
export interface RecordedRequest {
  /** 1-based arrival order. */
  seq: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Query string as an object; repeated keys become arrays. */
  query: Record<string, string | string[]>;
  /** Lower-cased header names; the `api_access_token` value is replaced by `[redacted]`. */
  headers: Record<string, string>;
  /** Whether a non-blank `api_access_token` header was sent. */
  hasAccessToken: boolean;
  /** Who the token belonged to (`none` when absent or the route needs no auth). */
  auth: AuthOutcome;
  /** Parsed JSON body, multipart/urlencoded fields (files as `{filename, contentType, size}`), or raw text. */
  body: unknown;
  /** `null` while pending, or when the connection was reset or closed without a response. */
  status: number | null;
  outcome: 'pending' | 'responded' | 'reset' | 'client-closed' | 'server-closed' | 'throttled';
  /** The injected fault applied to this request, if any. */
  fault: FaultSpec['type'] | null;
  /** Parsed JSON response body, or the text. */
  responseBody: unknown;
  receivedAt: number;
  respondedAt: number | null;
}

export interface AddUserInit {
  name: string;
  email?: string;
  token?: string;
  /** Memberships; a user with none is "not in the account". */
  accounts?: Array<{ accountId: number; role: Role }>;
}

export interface AddAgentBotInit {
  name: string;
  /** Owning account; `null` makes a global bot (then it needs `inboxIds` in the account). @default the main account */
  accountId?: number | null;
  token?: string;
  /** Inboxes the bot is connected to (makes `inbox.active_bot?` true: new conversations start `pending`). */
  inboxIds?: number[];
}

export interface FakeChatwoot {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The main account id. */
  readonly accountId: number;
  /** The main user (token owner). */
  readonly user: FakeUser;
  /** Every request received, in order (bounded by `requestLogLimit`). */
  readonly requests: readonly RecordedRequest[];
  /** The model events the webhook sender listens to: `message_created`, `message_updated`, … */
  readonly events: EventEmitter<FakeChatwootEvents>;
  clearRequests(): void;

  addAccount(init?: { id?: number; name?: string; status?: AccountStatus }): FakeAccount;
  setAccountStatus(accountId: number, status: AccountStatus): void;
  addUser(init: AddUserInit): FakeUser;
  addAgentBot(init: AddAgentBotInit): FakeAgentBot;
  addInbox(init: FakeInboxInit): FakeInbox;
  addInboxMember(inboxId: number, userId: number): void;
  /** What Meta would sync next: the inbox's `message_templates` from now on. */
  setTemplates(inboxId: number, templates: MessageTemplate[]): void;
  /** Inbox ids whose template sync (`POST …/sync_templates`) was asked for, in order. */
  templateSyncs(): number[];
  /** Throws Rails' `Validation failed: …` on an invalid or duplicate phone/email/identifier. */
  addContact(init: FakeContactInit): FakeContact;
  addContactInbox(init: { contactId: number; inboxId: number; sourceId?: string }): FakeContactInbox;
  addConversation(init: FakeConversationInit): FakeConversation;
  /** A customer message (opens the 24-hour window, reopens resolved conversations). */
  addIncomingMessage(conversationId: number, init: IncomingMessageInit, accountId?: number): FakeMessage;
  /** History seeded without the API; never delivered. */
  addOutgoingMessage(conversationId: number, init: OutgoingMessageInit, accountId?: number): FakeMessage;

  conversation(id: number, accountId?: number): FakeConversation | undefined;
  conversations(accountId?: number): FakeConversation[];
  messages(conversationId: number, accountId?: number): FakeMessage[];
  message(id: number): FakeMessage | undefined;
  contact(id: number): FakeContact | undefined;
  /** Applies a provider status webhook now (`read → delivered` is refused). Returns whether it changed anything. */
  setMessageStatus(messageId: number, status: MessageStatus, externalError?: string): boolean;
  /** Resolves once no delivery step is scheduled. */
  whenDeliveryIdle(): Promise<void>;

  /**
   * An account webhook, as if created in Settings → Integrations (the model's validations apply). Every event of
   * the account it subscribes to is POSTed to `url`, from all inboxes, signed with `secret`.
   */
  addWebhook(init: FakeWebhookInit): FakeWebhook;
  /** Deliveries already queued still go out (the jobs carry the URL), as in Chatwoot. */
  removeWebhook(id: number): boolean;
  webhooks(accountId?: number): FakeWebhook[];
  /** Every delivery attempt, oldest first (bounded by `requestLogLimit`). */
  webhookDeliveries(): FakeWebhookDelivery[];
  clearWebhookDeliveries(): void;
  /** A webhook outage: deliveries due while paused are dropped for good (`status: 'dropped'`), never retried. */
  pauseWebhooks(): void;
  resumeWebhooks(): void;
  setWebhookOptions(options: FakeWebhookOptions): void;
  /** Resolves once no webhook delivery is queued or in flight (including those held for a request still being served). */
  whenWebhooksIdle(): Promise<void>;
  /**
   * A request to re-send: a recorded delivery byte for byte (a replay), or any payload signed with the main
   * account's first webhook; override `secret`, `timestamp` or `deliveryId` to forge one.
   */
  webhookRequest(
    source: FakeWebhookDelivery | Record<string, unknown>,
    options?: WebhookRequestOptions,
  ): FakeWebhookRequest;
  /** The payload Chatwoot would send now for a message (`id` = message id) or a conversation (`id` = display id). */
  webhookPayload(
    event: DeliveredEvent,
    id: number,
    options?: { accountId?: number; previousStatus?: ConversationStatus },
  ): Record<string, unknown>;

  fault(spec: FaultSpec): FaultHandle;
  clearFaults(): void;
  setLatency(ms: number): void;
  setRateLimit(perMinute: number | false): void;
  setServiceStatus(status: Partial<ServiceStatus>): void;
  /** Stops listening and drops open connections: clients get ECONNREFUSED until `up()`. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Stops everything; rejects if the fake itself hit a bug while serving. */
  close(): Promise<void>;
}

const DEFAULT_USER = {
  id: 1,
  name: 'Slack Bridge',
  email: 'bridge@example.com',
  role: 'administrator',
  token: 'cw-user-token',
} as const;
const THROTTLED: ApiResponse = { status: 429, headers: { 'content-type': 'text/plain' }, body: 'Retry later\n' };
const FOREVER_MS = 2 ** 31 - 1;

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  entry: RecordedRequest;
  /** Settles when the client drops the connection before the response finished. */
  disconnected: Promise<void>;
}

export async function startFakeChatwoot(options: FakeChatwootOptions = {}): Promise<FakeChatwoot> {
  const fake = new FakeChatwootServer(options);
  await fake.up();
  return fake;
}

class FakeChatwootServer implements FakeChatwoot {
  readonly accountId: number;
  readonly user: FakeUser;
  private readonly store: ChatwootStore;
  private readonly api: ChatwootApi;
  private readonly webhookRegistry: WebhookRegistry;
  private readonly webhookPayloads: WebhookPayloads;
  private readonly webhookSender: WebhookSender;
  private readonly rack: RackAttack;
  private readonly faults = new FaultQueue();
  private readonly deliveryTimers = new TimerRegistry();
  private readonly requestTimers = new TimerRegistry();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly log: RecordedRequest[] = [];
  private readonly internalErrors: unknown[] = [];
  private readonly version: string;
  private serviceStatus: ServiceStatus = { queueServices: 'ok', dataServices: 'ok' };
  private latencyMs: number;
  private readonly requestLogLimit: number;
  private requestSeq = 0;
  private boundPort = 0;
  private closed = false;

  constructor(options: FakeChatwootOptions) {
    const now = options.now ?? Date.now;
    this.version = options.version ?? '4.15.1';
    this.latencyMs = options.latencyMs ?? 0;
    this.requestLogLimit = options.requestLogLimit ?? 10_000;
    this.store = new ChatwootStore(now);
    const account = this.store.addAccount(options.accountId ?? 1, options.accountName ?? 'Acme', 'active');
    this.accountId = account.id;
    const init = { ...DEFAULT_USER, ...options.user };
    const user = this.store.addUser({ id: init.id, name: init.name, email: init.email, token: init.token });
    this.store.addMembership(user.id, account.id, init.role);
    this.user = this.userSnapshot(user.id);

    const delivery = new DeliverySimulator(this.store, this.deliveryTimers, options.delivery);
    this.store.onSendReply = (message) => delivery.enqueue(message);
    const views = new Views(this.store, () => this.url);
    this.webhookRegistry = new WebhookRegistry(now);
    this.webhookPayloads = new WebhookPayloads(this.store, views);
    this.webhookSender = new WebhookSender({
      store: this.store,
      registry: this.webhookRegistry,
      payloads: this.webhookPayloads,
      version: () => this.version,
      options: options.webhooks,
      logLimit: this.requestLogLimit,
      onInternalError: (error) => this.internalErrors.push(error),
    });
    this.api = new ChatwootApi(
      this.store,
      views,
      () => this.version,
      () => this.serviceStatus,
      this.webhookRegistry,
    );
    this.rack = new RackAttack(now, options.rateLimitPerMinute ?? false, options.contactSearchPerMinute ?? 100);
    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((error: unknown) => this.onInternalError(error, res));
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get requests(): readonly RecordedRequest[] {
    return this.log;
  }

  get events(): EventEmitter<FakeChatwootEvents> {
    return this.store.events;
  }

  clearRequests(): void {
    this.log.length = 0;
  }

  // ---- model control

  addAccount(init: { id?: number; name?: string; status?: AccountStatus } = {}): FakeAccount {
    const account = this.store.addAccount(init.id, init.name ?? 'Other account', init.status ?? 'active');
    return { id: account.id, name: account.name, status: account.status };
  }

  setAccountStatus(accountId: number, status: AccountStatus): void {
    this.store.requireAccount(accountId).status = status;
  }

  addUser(init: AddUserInit): FakeUser {
    const user = this.store.addUser({ name: init.name, email: init.email, token: init.token });
    for (const membership of init.accounts ?? [])
      this.store.addMembership(user.id, membership.accountId, membership.role);
    return this.userSnapshot(user.id);
  }

  addAgentBot(init: AddAgentBotInit): FakeAgentBot {
    const bot = this.store.addBot({
      name: init.name,
      accountId: init.accountId === undefined ? this.accountId : init.accountId,
      token: init.token,
      inboxIds: init.inboxIds,
    });
    return { id: bot.id, name: bot.name, token: bot.token, accountId: bot.accountId, inboxIds: [...bot.inboxIds] };
  }

  addInbox(init: FakeInboxInit): FakeInbox {
    const inbox = this.store.addInbox({ ...init, accountId: init.accountId ?? this.accountId });
    return this.store.toFakeInbox(inbox);
  }

  addInboxMember(inboxId: number, userId: number): void {
    this.store.requireUser(userId);
    this.store.requireInbox(inboxId).memberIds.add(userId);
  }

  setTemplates(inboxId: number, templates: MessageTemplate[]): void {
    this.store.requireInbox(inboxId).messageTemplates = structuredClone(templates);
  }

  templateSyncs(): number[] {
    return [...this.api.templateSyncs];
  }

  addContact(init: FakeContactInit): FakeContact {
    const contact = this.store.createContact(init.accountId ?? this.accountId, init);
    return this.contactSnapshot(contact);
  }

  addContactInbox(init: { contactId: number; inboxId: number; sourceId?: string }): FakeContactInbox {
    const contact = this.store.requireContact(init.contactId);
    const inbox = this.store.requireInbox(init.inboxId);
    if (contact.accountId !== inbox.accountId) throw new Error('contact and inbox belong to different accounts');
    const contactInbox = this.store.buildContactInbox(contact, inbox, init.sourceId ?? null);
    if (!contactInbox) throw new Error(`no source_id could be built for contact ${contact.id}`);
    return {
      id: contactInbox.id,
      contactId: contactInbox.contactId,
      inboxId: contactInbox.inboxId,
      sourceId: contactInbox.sourceId,
    };
  }

  addConversation(init: FakeConversationInit): FakeConversation {
    const contact = this.store.requireContact(init.contactId);
    const inbox = this.store.requireInbox(init.inboxId);
    if (contact.accountId !== inbox.accountId) throw new Error('contact and inbox belong to different accounts');
    const existing = [...this.store.contactInboxes.values()].find(
      (ci) =>
        ci.contactId === contact.id &&
        ci.inboxId === inbox.id &&
        (init.sourceId === undefined || ci.sourceId === init.sourceId),
    );
    const contactInbox = existing ?? this.store.buildContactInbox(contact, inbox, init.sourceId ?? null);
    if (!contactInbox) throw new Error(`no source_id could be built for contact ${contact.id}`);
    const conversation = this.store.createConversation(contactInbox, {
      status: init.status,
      assigneeId: init.assigneeId,
      labels: init.labels,
      at: init.at,
    });
    return this.store.toFakeConversation(conversation);
  }

  addIncomingMessage(conversationId: number, init: IncomingMessageInit, accountId = this.accountId): FakeMessage {
    const conversation = this.requireConversation(conversationId, accountId);
    const message = this.store.seedMessage(conversation, {
      messageType: 0,
      content: init.content,
      at: init.at,
      sourceId: init.sourceId ?? `wamid.HBgL${randomBytes(27).toString('base64')}`,
    });
    return this.store.toFakeMessage(message);
  }

  addOutgoingMessage(conversationId: number, init: OutgoingMessageInit, accountId = this.accountId): FakeMessage {
    const conversation = this.requireConversation(conversationId, accountId);
    const message = this.store.seedMessage(conversation, {
      messageType: 1,
      content: init.content,
      at: init.at,
      status: init.status,
      sourceId: init.sourceId,
      private: init.private,
      externalError: init.externalError,
      additionalAttributes: init.templateParams ? { template_params: init.templateParams } : undefined,
    });
    return this.store.toFakeMessage(message);
  }

  conversation(id: number, accountId = this.accountId): FakeConversation | undefined {
    const found = [...this.store.conversations.values()].find((c) => c.accountId === accountId && c.displayId === id);
    return found ? this.store.toFakeConversation(found) : undefined;
  }

  conversations(accountId = this.accountId): FakeConversation[] {
    return [...this.store.conversations.values()]
      .filter((c) => c.accountId === accountId)
      .map((c) => this.store.toFakeConversation(c));
  }

  messages(conversationId: number, accountId = this.accountId): FakeMessage[] {
    const conversation = this.requireConversation(conversationId, accountId);
    return this.store.conversationMessages(conversation).map((m) => this.store.toFakeMessage(m));
  }

  message(id: number): FakeMessage | undefined {
    const message = this.store.messages.get(id);
    return message ? this.store.toFakeMessage(message) : undefined;
  }

  contact(id: number): FakeContact | undefined {
    const contact = this.store.contacts.get(id);
    return contact ? this.contactSnapshot(contact) : undefined;
  }

  setMessageStatus(messageId: number, status: MessageStatus, externalError?: string): boolean {
    const message = this.store.messages.get(messageId);
    if (!message) throw new Error(`no message ${messageId}`);
    return this.store.updateMessageStatus(message, status, externalError);
  }

  whenDeliveryIdle(): Promise<void> {
    return this.deliveryTimers.whenIdle();
  }

  // ---- webhooks

  addWebhook(init: FakeWebhookInit): FakeWebhook {
    const accountId = init.accountId ?? this.accountId;
    this.store.requireAccount(accountId);
    const webhook = this.webhookRegistry.create(
      accountId,
      {
        url: init.url,
        ...(init.name === undefined ? {} : { name: init.name }),
        ...(init.inboxId === undefined ? {} : { inboxId: init.inboxId }),
        ...(init.subscriptions === undefined ? {} : { subscriptions: [...init.subscriptions] }),
      },
      init.secret,
    );
    return webhookSnapshot(webhook);
  }

  removeWebhook(id: number): boolean {
    return this.webhookRegistry.destroy(id);
  }

  webhooks(accountId = this.accountId): FakeWebhook[] {
    return this.webhookRegistry.forAccount(accountId).map(webhookSnapshot);
  }

  webhookDeliveries(): FakeWebhookDelivery[] {
    return this.webhookSender.deliveries();
  }

  clearWebhookDeliveries(): void {
    this.webhookSender.clearDeliveries();
  }

  pauseWebhooks(): void {
    this.webhookSender.pause();
  }

  resumeWebhooks(): void {
    this.webhookSender.resume();
  }

  setWebhookOptions(options: FakeWebhookOptions): void {
    this.webhookSender.setOptions(options);
  }

  whenWebhooksIdle(): Promise<void> {
    return this.webhookSender.whenIdle();
  }

  webhookRequest(
    source: FakeWebhookDelivery | Record<string, unknown>,
    options: WebhookRequestOptions = {},
  ): FakeWebhookRequest {
    return this.webhookSender.request(source, options, this.webhookRegistry.forAccount(this.accountId)[0]);
  }

  webhookPayload(
    event: DeliveredEvent,
    id: number,
    options: { accountId?: number; previousStatus?: ConversationStatus } = {},
  ): Record<string, unknown> {
    if (event === 'message_created' || event === 'message_updated') {
      const message = this.store.messages.get(id);
      if (!message) throw new Error(`no message ${id}`);
      const payload = this.webhookPayloads.message(message, event);
      if (!payload) throw new Error(`message ${id} is an activity message: Chatwoot sends no webhook for it`);
      return payload;
    }
    const conversation = this.requireConversation(id, options.accountId ?? this.accountId);
    return this.webhookPayloads.conversation(conversation, event, options.previousStatus);
  }

  // ---- faults and conditions

  fault(spec: FaultSpec): FaultHandle {
    return this.faults.add(spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  setRateLimit(perMinute: number | false): void {
    this.rack.globalLimit = perMinute;
  }

  setServiceStatus(status: Partial<ServiceStatus>): void {
    this.serviceStatus = { ...this.serviceStatus, ...status };
  }

  async down(): Promise<void> {
    if (!this.server.listening) return;
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closing;
  }

  async up(): Promise<void> {
    if (this.closed) throw new Error('the fake Chatwoot is closed');
    if (this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.boundPort, '127.0.0.1', () => {
        this.server.off('error', onError);
        const address = this.server.address();
        if (address && typeof address === 'object') this.boundPort = address.port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.webhookSender.close();
    this.deliveryTimers.clearAll();
    this.requestTimers.clearAll();
    this.faults.clear();
    await this.down();
    this.store.events.removeAllListeners();
    if (this.internalErrors.length > 0) {
      throw new AggregateError(this.internalErrors, 'the fake Chatwoot failed while serving requests');
    }
  }

  // ---- request pipeline: faults → Rack::Attack → Rails → (afterStore fault) → latency → response

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (raw === null) return;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = flattenHeaders(req.headers);
    const token = headers['api_access_token'] ?? headers['api-access-token'];
    const entry: RecordedRequest = {
      seq: ++this.requestSeq,
      method,
      path: url.pathname,
      query: flatQuery(url.search),
      headers: redact(headers),
      hasAccessToken: present(token),
      auth: 'none',
      body: loggableBody(headers['content-type'], raw),
      status: null,
      outcome: 'pending',
      fault: null,
      responseBody: undefined,
      receivedAt: this.store.now(),
      respondedAt: null,
    };
    this.log.push(entry);
    if (this.log.length > this.requestLogLimit) this.log.splice(0, this.log.length - this.requestLogLimit);
    const exchange: Exchange = {
      req,
      res,
      entry,
      disconnected: new Promise((resolve) => {
        res.once('close', () => {
          if (!res.writableFinished) resolve();
        });
      }),
    };

    const fault = this.faults.take(method, url.pathname);
    if (fault) entry.fault = fault.type;
    if (fault && !fault.afterStore) {
      if (fault.type === 'reset') return this.reset(exchange);
      if (fault.type === 'status') return this.respond(exchange, faultResponse(fault));
      if (!(await this.hold(exchange, fault.ms))) return;
    }

    // Webhooks for what this request changed go out once it has been answered (or abandoned), like Sidekiq jobs.
    const gate = this.webhookSender.capture();
    try {
      let response: ApiResponse;
      if (this.rack.throttled(url.pathname, clientIp(req.socket.remoteAddress, headers['x-forwarded-for']))) {
        response = THROTTLED;
      } else {
        try {
          const result = this.api.dispatch({ method, path: url.pathname, search: url.search, headers, rawBody: raw });
          response = result.response;
          entry.auth = result.auth;
        } finally {
          this.webhookSender.endCapture(gate);
        }
      }

      if (fault?.afterStore) {
        if (fault.type === 'reset') return this.reset(exchange);
        if (fault.type === 'status') response = faultResponse(fault);
        if (fault.type === 'stall' && !(await this.hold(exchange, fault.ms))) return;
      }
      await this.respond(exchange, response);
    } finally {
      this.webhookSender.endCapture(gate);
      setImmediate(() => this.webhookSender.release(gate));
    }
  }

  /** Holds a request for `ms` (forever when undefined); false when the client or the fake gave up meanwhile. */
  private async hold(exchange: Exchange, ms: number | undefined): Promise<boolean> {
    const outcome = await Promise.race([
      this.requestTimers.sleep(ms ?? FOREVER_MS).then((completed) => (completed ? 'elapsed' : 'closed')),
      exchange.disconnected.then(() => 'disconnected' as const),
    ]);
    if (outcome === 'elapsed') return true;
    exchange.entry.outcome = outcome === 'closed' || !this.server.listening ? 'server-closed' : 'client-closed';
    return false;
  }

  private reset({ req, entry }: Exchange): void {
    entry.outcome = 'reset';
    entry.respondedAt = this.store.now();
    req.socket.resetAndDestroy();
  }

  private async respond(exchange: Exchange, response: ApiResponse): Promise<void> {
    const { res, entry } = exchange;
    if (this.latencyMs > 0 && !(await this.hold(exchange, this.latencyMs))) return;
    if (res.destroyed) {
      entry.outcome = this.server.listening ? 'client-closed' : 'server-closed';
      return;
    }
    const headers: Record<string, string> = { ...response.headers };
    if (headers['server'] !== 'nginx') headers['x-request-id'] = randomUUID();
    headers['content-length'] = String(Buffer.byteLength(response.body));
    // The Date header follows the injected clock, so clients that estimate clock skew see the fake's time.
    headers['date'] = new Date(this.store.now()).toUTCString();
    res.sendDate = false;
    res.writeHead(response.status, headers);
    res.end(entry.method === 'HEAD' ? undefined : response.body);
    entry.status = response.status;
    entry.outcome = response === THROTTLED ? 'throttled' : 'responded';
    entry.respondedAt = this.store.now();
    entry.responseBody = parseResponseBody(response);
  }

  private onInternalError(error: unknown, res: ServerResponse): void {
    this.internalErrors.push(error);
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end('{"status":500,"error":"Internal Server Error"}');
    }
  }

  // ---- snapshots

  private requireConversation(displayId: number, accountId: number) {
    const found = [...this.store.conversations.values()].find(
      (c) => c.accountId === accountId && c.displayId === displayId,
    );
    if (!found) throw new Error(`no conversation ${displayId} in account ${accountId}`);
    return found;
  }

  private userSnapshot(id: number): FakeUser {
    const user = this.store.requireUser(id);
    return {
      id: user.id,
      name: user.name,
      email: user.email,
      token: user.token,
      accounts: user.memberships.map((m) => ({ accountId: m.accountId, role: m.role })),
    };
  }

  private contactSnapshot(contact: ContactRecord): FakeContact {
    return {
      id: contact.id,
      accountId: contact.accountId,
      name: contact.name,
      phoneNumber: contact.phoneNumber,
      email: contact.email,
      identifier: contact.identifier,
      blocked: contact.blocked,
      contactInboxes: this.store
        .contactInboxesOf(contact)
        .map((ci) => ({ id: ci.id, inboxId: ci.inboxId, sourceId: ci.sourceId })),
    };
  }
}

function webhookSnapshot(webhook: WebhookRecord): FakeWebhook {
  const subscriptions = Array.isArray(webhook.subscriptions) ? webhook.subscriptions.map(String) : [];
  return {
    id: webhook.id,
    accountId: webhook.accountId,
    url: webhook.url ?? '',
    name: webhook.name,
    subscriptions,
    secret: webhook.secret,
    inboxId: webhook.inboxId,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(null));
  });
}

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function redact(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  for (const name of ['api_access_token', 'api-access-token']) if (name in out) out[name] = '[redacted]';
  return out;
}

function loggableBody(contentType: string | undefined, raw: Buffer): unknown {
  try {
    return parseBody(contentType, raw).logged;
  } catch {
    return raw.toString('utf8');
  }
}

function parseResponseBody(response: ApiResponse): unknown {
  if (!(response.headers['content-type'] ?? '').includes('json')) return response.body;
  try {
    return JSON.parse(response.body);
  } catch {
    return response.body;
  }
}
