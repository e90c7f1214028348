import { STATUS_CODES } from 'node:http';
import {
  BadRequestBody,
  isParamHash,
  type ParamHash,
  type ParamValue,
  parseBody,
  parseQueryString,
  UploadedFile,
} from './params.ts';
import {
  castBoolean,
  castInteger,
  castText,
  dbTime,
  likePattern,
  NotAuthorized,
  ParameterMissing,
  present,
  RecordInvalid,
  RecordNotFound,
  railsJson,
  rubyStrip,
  toI,
  UnhandledError,
} from './ruby.ts';
import {
  type AccountRecord,
  type Actor,
  type ChatwootStore,
  CONVERSATION_STATUSES,
  type ContactInboxRecord,
  type ContactRecord,
  type ConversationRecord,
  type InboxRecord,
  type MessageRecord,
} from './store.ts';
import type { ConversationStatus } from './types.ts';
import type { Views } from './views.ts';
import type { WebhookAttributes, WebhookRecord, WebhookRegistry } from './webhooks.ts';

export interface ApiRequest {
  method: string;
  path: string;
  search: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type AuthOutcome = 'none' | 'invalid' | 'user' | 'agent_bot';

export interface ApiResult {
  response: ApiResponse;
  auth: AuthOutcome;
}

export interface ServiceStatus {
  queueServices: 'ok' | 'failing';
  dataServices: 'ok' | 'failing';
}

type Scope = 'public' | 'user' | 'account';

interface Route {
  method: string;
  pattern: RegExp;
  scope: Scope;
  /** Rails `params[:controller]`, used for the AgentBot allow-list. */
  controller: string;
  action: string;
  handle: (context: Context) => ApiResponse;
}

interface Context {
  request: ApiRequest;
  params: ParamHash;
  actor: Actor;
  account: AccountRecord;
}

/** AccessTokenAuthHelper::BOT_ACCESSIBLE_ENDPOINTS. */
const BOT_ACCESSIBLE: Readonly<Record<string, readonly string[]>> = {
  'api/v1/accounts/conversations': [
    'show',
    'toggle_status',
    'toggle_typing_status',
    'toggle_priority',
    'create',
    'update',
    'custom_attributes',
  ],
  'api/v1/accounts/conversations/messages': ['create'],
  'api/v1/accounts/conversations/assignments': ['create'],
  'api/v1/accounts/conversations/labels': ['index', 'create'],
};

const CONVERSATIONS_PER_PAGE = 25;
/** Collection routes the fake does not serve (`conversations/meta`, `…/search`, `…/filter`) must not reach `show`. */
const RESERVED = '(?!(?:meta|search|filter)(?:\\.json)?$)';
const CONTACTS_PER_PAGE = 15;
const PRIORITY_RANK = { low: 0, medium: 1, high: 2, urgent: 3 } as const;
/** `Webhook.attribute_names`: what ParamsWrapper copies under `webhook` from a JSON body. */
const WEBHOOK_ATTRIBUTES = [
  'id',
  'account_id',
  'inbox_id',
  'url',
  'created_at',
  'updated_at',
  'webhook_type',
  'subscriptions',
  'name',
  'secret',
];
/** Content types whose Mime ref is `:json` (ParamsWrapper's `wrap_parameters format: [:json]`). */
const JSON_MIME_TYPES = new Set(['application/json', 'text/x-json', 'application/jsonrequest']);

/** Chatwoot's routes, before_actions, controllers and exception handling. */
export class ChatwootApi {
  private readonly store: ChatwootStore;
  private readonly views: Views;
  private readonly version: () => string;
  private readonly serviceStatus: () => ServiceStatus;
  private readonly webhooks: WebhookRegistry;
  private readonly routes: Route[];

  constructor(
    store: ChatwootStore,
    views: Views,
    version: () => string,
    serviceStatus: () => ServiceStatus,
    webhooks: WebhookRegistry,
  ) {
    this.store = store;
    this.views = views;
    this.version = version;
    this.serviceStatus = serviceStatus;
    this.webhooks = webhooks;
    const conversations = 'api/v1/accounts/conversations';
    const messages = 'api/v1/accounts/conversations/messages';
    const contacts = 'api/v1/accounts/contacts';
    const webhooksController = 'api/v1/accounts/webhooks';
    const account = '/api/v1/accounts/:account_id';
    this.routes = [
      route('GET', '/health', 'public', 'health', 'show', () => json(200, { status: 'woot' })),
      route('GET', '/api', 'public', 'api', 'index', () => this.apiIndex()),
      route('GET', '/api/v1/profile', 'user', 'api/v1/profiles', 'show', (c) => this.profile(c)),
      route('GET', `${account}/inboxes`, 'account', 'api/v1/accounts/inboxes', 'index', (c) => this.inboxes(c)),
      route('GET', `${account}/conversations`, 'account', conversations, 'index', (c) => this.conversations(c)),
      route('POST', `${account}/conversations`, 'account', conversations, 'create', (c) => this.createConversation(c)),
      route('GET', `${account}/conversations/:id`, 'account', conversations, 'show', (c) => this.conversation(c)),
      route('POST', `${account}/conversations/:id/toggle_status`, 'account', conversations, 'toggle_status', (c) =>
        this.toggleStatus(c),
      ),
      route('GET', `${account}/conversations/:conversation_id/messages`, 'account', messages, 'index', (c) =>
        this.messages(c),
      ),
      route('POST', `${account}/conversations/:conversation_id/messages`, 'account', messages, 'create', (c) =>
        this.createMessage(c),
      ),
      route('GET', `${account}/contacts/search`, 'account', contacts, 'search', (c) => this.searchContacts(c)),
      route('POST', `${account}/contacts`, 'account', contacts, 'create', (c) => this.createContact(c)),
      route(
        'GET',
        `${account}/contacts/:contact_id/conversations`,
        'account',
        'api/v1/accounts/contacts/conversations',
        'index',
        (c) => this.contactConversations(c),
      ),
      route(
        'POST',
        `${account}/inboxes/:id/sync_templates`,
        'account',
        'api/v1/accounts/inboxes',
        'sync_templates',
        (c) => this.syncTemplates(c),
      ),
      route(
        'POST',
        `${account}/contacts/:contact_id/contact_inboxes`,
        'account',
        'api/v1/accounts/contacts/contact_inboxes',
        'create',
        (c) => this.createContactInbox(c),
      ),
      route('GET', `${account}/webhooks`, 'account', webhooksController, 'index', (c) => this.webhooksIndex(c)),
      route('POST', `${account}/webhooks`, 'account', webhooksController, 'create', (c) => this.createWebhook(c)),
      route('PATCH', `${account}/webhooks/:id`, 'account', webhooksController, 'update', (c) => this.updateWebhook(c)),
      route('PUT', `${account}/webhooks/:id`, 'account', webhooksController, 'update', (c) => this.updateWebhook(c)),
      route('DELETE', `${account}/webhooks/:id`, 'account', webhooksController, 'destroy', (c) =>
        this.destroyWebhook(c),
      ),
    ];
  }

  dispatch(request: ApiRequest): ApiResult {
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    for (const candidate of this.routes) {
      if (candidate.method !== method) continue;
      const match = candidate.pattern.exec(request.path);
      if (!match) continue;
      return this.run(candidate, match.groups ?? {}, request);
    }
    return { response: routingError(request), auth: 'none' };
  }

  private run(target: Route, pathParams: Record<string, string>, request: ApiRequest): ApiResult {
    let parsed: ReturnType<typeof parseBody>;
    try {
      parsed = parseBody(header(request.headers, 'content-type'), request.rawBody);
    } catch (error) {
      if (error instanceof BadRequestBody) {
        return { response: railsError(400), auth: 'none' };
      }
      throw error;
    }
    const params: ParamHash = { ...parseQueryString(request.search), ...parsed.params, ...pathParams };
    const result = (response: ApiResponse, auth: AuthOutcome): ApiResult => ({ response, auth });
    if (target.scope === 'public') {
      return result(target.handle({ request, params, actor: placeholderActor, account: placeholderAccount }), 'none');
    }

    const token = header(request.headers, 'api_access_token') ?? header(request.headers, 'api-access-token');
    if (!present(token)) {
      return result(json(401, { errors: ['You need to sign in or sign up before continuing.'] }), 'none');
    }
    const actor = this.store.findTokenOwner(token ?? '');
    if (!actor) return result(json(401, { error: 'Invalid Access Token' }), 'invalid');
    const auth: AuthOutcome = actor.kind === 'user' ? 'user' : 'agent_bot';
    if (actor.kind === 'agent_bot' && !BOT_ACCESSIBLE[target.controller]?.includes(target.action)) {
      return result(json(401, { error: 'Access to this endpoint is not authorized for bots' }), auth);
    }

    return result(
      this.rescue(() => {
        const account = target.scope === 'account' ? this.currentAccount(params, actor) : placeholderAccount;
        if (!('id' in account)) return account;
        return target.handle({ request, params, actor, account });
      }),
      auth,
    );
  }

  /** EnsureCurrentAccountHelper. Returns a response when the request must stop. */
  private currentAccount(params: ParamHash, actor: Actor): AccountRecord | ApiResponse {
    const account = this.store.accounts.get(castInteger(params['account_id']) ?? Number.NaN);
    if (!account) throw new RecordNotFound();
    if (account.status !== 'active') return json(401, { error: 'Account is suspended' });
    if (actor.kind === 'user') {
      if (!this.store.membership(actor.user, account.id)) {
        return json(401, { error: 'You are not authorized to access this account' });
      }
      return account;
    }
    const bot = actor.bot;
    const viaInbox = [...bot.inboxIds].some((id) => this.store.inboxes.get(id)?.accountId === account.id);
    if (bot.accountId !== account.id && !viaInbox)
      return json(401, { error: 'Bot is not authorized to access this account' });
    return account;
  }

  /** RequestExceptionHandler#handle_with_exception and `rescue_from ActiveRecord::RecordInvalid`. */
  private rescue(work: () => ApiResponse): ApiResponse {
    try {
      return work();
    } catch (error) {
      if (error instanceof RecordNotFound) return json(404, { error: 'Resource could not be found' });
      if (error instanceof NotAuthorized) return json(401, { error: 'You are not authorized to do this action' });
      if (error instanceof ParameterMissing) return json(422, { error: error.message });
      if (error instanceof RecordInvalid) {
        return json(422, { message: error.fullMessages.join(', '), attributes: error.attributes });
      }
      if (isProgrammingError(error)) throw error;
      return railsError(500);
    }
  }

  // ---- controllers

  private apiIndex(): ApiResponse {
    const status = this.serviceStatus();
    return json(200, {
      version: this.version(),
      timestamp: dbTime(this.store.now()),
      queue_services: status.queueServices,
      data_services: status.dataServices,
    });
  }

  private profile({ actor }: Context): ApiResponse {
    if (actor.kind !== 'user') return json(401, { error: 'Access to this endpoint is not authorized for bots' });
    return json(200, this.views.profile(actor.user));
  }

  private inboxes({ actor, account }: Context): ApiResponse {
    const user = requireUser(actor);
    const isAdmin = this.store.membership(user, account.id)?.role === 'administrator';
    const inboxes = this.store
      .assignedInboxes(user, account.id)
      .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id - b.id);
    return json(200, { payload: inboxes.map((inbox) => this.views.inbox(inbox, isAdmin)) });
  }

  /** ConversationFinder#perform. */
  private conversations({ params, actor, account }: Context): ApiResponse {
    const user = requireUser(actor);
    const role = this.store.membership(user, account.id)?.role;
    let list = [...this.store.conversations.values()].filter((c) => c.accountId === account.id);
    if (params['inbox_id'] !== undefined) {
      const wanted = listParam(params['inbox_id']).map((v) => castInteger(v));
      const allowed = new Set(
        this.store
          .assignedInboxes(user, account.id)
          .filter((inbox) => wanted.includes(inbox.id))
          .map((inbox) => inbox.id),
      );
      list = list.filter((c) => allowed.has(c.inboxId));
    }
    if (role !== 'administrator') list = list.filter((c) => this.store.requireInbox(c.inboxId).memberIds.has(user.id));
    if (params['conversation_type'] === 'mention' || params['conversation_type'] === 'participating') list = [];
    if (params['conversation_type'] === 'unattended') {
      list = list.filter((c) => c.firstReplyCreatedAt === null || c.waitingSince !== null);
    }
    const hasQuery = params['q'] !== undefined && params['q'] !== null;
    if (!hasQuery && params['status'] !== 'all') {
      const status = params['status'] ?? 'open';
      list = list.filter((c) => c.status === status);
    }
    if (params['team_id'] !== undefined && params['team_id'] !== null) throw new RecordNotFound();
    if (params['labels'] !== undefined && params['labels'] !== null) {
      const labels = listParam(params['labels']).flatMap((v) =>
        String(v)
          .split(',')
          .map((l) => l.trim()),
      );
      list = list.filter((c) => c.labels.some((label) => labels.includes(label)));
    }
    if (hasQuery) {
      const pattern = likePattern(`%${String(castText(params['q']) ?? '')}%`, true);
      list = list.filter((c) =>
        this.store
          .conversationMessages(c)
          .some((m) => (m.messageType === 0 || m.messageType === 1) && m.content !== null && pattern.test(m.content)),
      );
    }
    if (params['source_id'] !== undefined && params['source_id'] !== null) {
      const wanted = listParam(params['source_id']).map((v) => castText(v));
      list = list.filter((c) => wanted.includes(this.store.contactInboxes.get(c.contactInboxId)?.sourceId ?? null));
    }

    const sorted = this.sortConversations(list, params['sort_by']);
    const updatedWithin = present(params['updated_within']) ? toI(params['updated_within']) : null;
    const pageOf = (items: ConversationRecord[]) => {
      if (updatedWithin !== null) return items.filter((c) => c.updatedAt > this.store.now() - updatedWithin * 1000);
      const page = Math.max(1, toI(params['page'] ?? 1));
      return items.slice((page - 1) * CONVERSATIONS_PER_PAGE, page * CONVERSATIONS_PER_PAGE);
    };
    // With `q` the finder has already applied paging when it counts, so counts cover one page (legacy_count).
    const counted = hasQuery ? pageOf(sorted) : sorted;
    const unassignedCount = counted.filter((c) => c.assigneeId === null).length;
    const counts = {
      mine_count: counted.filter((c) => c.assigneeId === user.id).length,
      assigned_count: counted.length - unassignedCount,
      unassigned_count: unassignedCount,
      all_count: counted.length,
    };
    let filtered = sorted;
    if (params['assignee_type'] === 'me') filtered = sorted.filter((c) => c.assigneeId === user.id);
    if (params['assignee_type'] === 'unassigned') filtered = sorted.filter((c) => c.assigneeId === null);
    if (params['assignee_type'] === 'assigned') filtered = sorted.filter((c) => c.assigneeId !== null);
    const payload = pageOf(filtered).map((c) => this.views.conversation(c));
    return json(200, { data: { meta: counts, payload } });
  }

  private sortConversations(list: ConversationRecord[], sortBy: ParamValue | undefined): ConversationRecord[] {
    const key = typeof sortBy === 'string' ? sortBy : '';
    const byActivity = (a: ConversationRecord, b: ConversationRecord) => b.lastActivityAt - a.lastActivityAt;
    const nullsLast = (a: number | null, b: number | null, direction: 1 | -1) => {
      if (a === null && b === null) return 0;
      if (a === null) return 1;
      if (b === null) return -1;
      return (a - b) * direction;
    };
    const rank = (c: ConversationRecord) => (c.priority === null ? null : PRIORITY_RANK[c.priority]);
    const comparators: Record<string, (a: ConversationRecord, b: ConversationRecord) => number> = {
      last_activity_at_asc: (a, b) => a.lastActivityAt - b.lastActivityAt,
      last_activity_at_desc: byActivity,
      latest: byActivity,
      created_at_asc: (a, b) => a.createdAt - b.createdAt,
      sort_on_created_at: (a, b) => a.createdAt - b.createdAt,
      created_at_desc: (a, b) => b.createdAt - a.createdAt,
      priority_asc: (a, b) => nullsLast(rank(a), rank(b), 1) || byActivity(a, b),
      priority_desc: (a, b) => nullsLast(rank(a), rank(b), -1) || byActivity(a, b),
      sort_on_priority: (a, b) => nullsLast(rank(a), rank(b), -1) || byActivity(a, b),
      priority_desc_created_at_asc: (a, b) => nullsLast(rank(a), rank(b), -1) || a.createdAt - b.createdAt,
      waiting_since_asc: (a, b) => nullsLast(a.waitingSince, b.waitingSince, 1) || a.createdAt - b.createdAt,
      sort_on_waiting_since: (a, b) => nullsLast(a.waitingSince, b.waitingSince, 1) || a.createdAt - b.createdAt,
      waiting_since_desc: (a, b) => nullsLast(a.waitingSince, b.waitingSince, -1) || a.createdAt - b.createdAt,
      unread: (a, b) => this.store.unreadCount(b) - this.store.unreadCount(a) || byActivity(a, b),
    };
    const compare = comparators[key] ?? byActivity;
    return [...list].sort((a, b) => compare(a, b) || a.dbId - b.dbId);
  }

  private findConversation({ params, actor, account }: Context, key: 'id' | 'conversation_id'): ConversationRecord {
    const conversation = this.store.findConversation(account.id, params[key]);
    this.store.authorizeConversation(actor, conversation);
    return conversation;
  }

  private conversation(context: Context): ApiResponse {
    return json(200, this.views.conversation(this.findConversation(context, 'id')));
  }

  /** ConversationsController#toggle_status and its view. */
  private toggleStatus(context: Context): ApiResponse {
    const { params, actor, account } = context;
    const conversation = this.findConversation(context, 'id');
    let success: boolean | null = null;
    if (actor.kind === 'agent_bot' && conversation.status === 'pending' && params['status'] === 'open') {
      // Conversation#bot_handoff!: `@status` is never set, so the view renders `success: null`.
      conversation.waitingSince ??= this.store.now();
      this.store.setConversationStatus(conversation, 'open');
    } else if (present(params['status'])) {
      const status = conversationStatus(params['status'] ?? null);
      let snoozedUntil: number | null | undefined;
      if (
        params['snoozed_until'] !== undefined &&
        params['snoozed_until'] !== null &&
        params['snoozed_until'] !== false
      ) {
        const text = String(castText(params['snoozed_until']));
        if (!/^-?\d+$/.test(text)) throw new Error('invalid date');
        snoozedUntil = Number.parseInt(text, 10) * 1000;
      }
      this.store.setConversationStatus(conversation, status, snoozedUntil);
      success = true;
    } else {
      const next: ConversationStatus = conversation.status === 'open' ? 'resolved' : 'open';
      this.store.setConversationStatus(conversation, next);
      success = true;
    }
    if (conversation.status === 'open' && actor.kind === 'user') {
      if (this.store.membership(actor.user, account.id)?.role === 'agent') conversation.assigneeId = actor.user.id;
    }
    return json(200, {
      meta: {},
      payload: {
        success,
        conversation_id: conversation.displayId,
        current_status: conversation.status,
        snoozed_until: conversation.snoozedUntil === null ? null : new Date(conversation.snoozedUntil).toISOString(),
      },
    });
  }

  /** ConversationsController#create: contact_inbox lookup, ConversationBuilder and MessageBuilder in one transaction. */
  private createConversation(context: Context): ApiResponse {
    const { params, actor, account } = context;
    let inbox: InboxRecord | undefined;
    if (present(params['inbox_id'])) {
      inbox = this.findInbox(account, params['inbox_id']);
      this.store.authorizeInbox(actor, inbox);
    }
    const contact = present(params['contact_id']) ? this.findContact(account, params['contact_id']) : undefined;
    let contactInbox: ContactInboxRecord | null | undefined =
      inbox && contact ? this.store.buildContactInbox(contact, inbox, sourceIdParam(params['source_id'])) : undefined;
    if (!contactInbox) {
      const sourceId = castText(params['source_id'] ?? null);
      contactInbox = [...this.store.contactInboxes.values()].find((ci) => ci.sourceId === sourceId);
      if (!contactInbox) throw new RecordNotFound();
    }
    const resolvedInbox = this.store.requireInbox(contactInbox.inboxId);
    this.store.authorizeInbox(actor, resolvedInbox);
    const chosen = contactInbox;

    const conversation = this.store.transaction(() => {
      const existing = resolvedInbox.lockToSingleConversation
        ? [...this.store.conversations.values()].filter((c) => c.contactInboxId === chosen.id).at(-1)
        : undefined;
      const target =
        existing ??
        this.store.createConversation(chosen, {
          status: present(params['status']) ? conversationStatus(params['status'] ?? null) : undefined,
          assigneeId: present(params['assignee_id']) ? castInteger(params['assignee_id']) : null,
          additionalAttributes: hashParam(params['additional_attributes']),
          customAttributes: hashParam(params['custom_attributes']),
        });
      if (present(params['message']) && isParamHash(params['message'])) {
        this.store.buildMessage(target, params['message'], actor);
      }
      return target;
    });
    return json(200, this.views.conversation(conversation));
  }

  /** MessageFinder. */
  private messages(context: Context): ApiResponse {
    const { params } = context;
    const conversation = this.findConversation(context, 'conversation_id');
    let all = this.store.conversationMessages(conversation);
    if (present(params['filter_internal_messages'])) all = all.filter((m) => !m.private && m.messageType !== 2);
    let page: MessageRecord[];
    if (present(params['after']) && present(params['before'])) {
      const after = toI(params['after']);
      const before = toI(params['before']);
      page = all.filter((m) => m.id >= after && m.id < before).slice(0, 1000);
    } else if (present(params['before'])) {
      const before = toI(params['before']);
      page = all.filter((m) => m.id < before).slice(-20);
    } else if (present(params['after'])) {
      const after = toI(params['after']);
      page = all.filter((m) => m.id > after).slice(0, 100);
    } else {
      page = all.slice(-20);
    }
    return json(200, {
      meta: this.views.messagesMeta(conversation),
      payload: page.map((m) => this.views.message(m)),
    });
  }

  /** MessagesController#create: every StandardError from the builder becomes 422 `{error}`. */
  private createMessage(context: Context): ApiResponse {
    const conversation = this.findConversation(context, 'conversation_id');
    try {
      const message = this.store.buildMessage(conversation, context.params, context.actor);
      return json(200, this.views.message(message, context.params['echo_id']));
    } catch (error) {
      if (isProgrammingError(error)) throw error;
      return json(422, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** ContactsController#search. */
  private searchContacts({ params, account }: Context): ApiResponse {
    const currentPage = params['page'] ?? 1;
    if (!present(params['q'])) {
      // `render … if params[:q].blank? && return` returns before rendering, so the default view renders with nils.
      return json(200, { meta: { count: null, current_page: currentPage, has_more: null }, payload: [] });
    }
    const query = rubyStrip(String(castText(params['q'])));
    const ilike = likePattern(`%${query}%`, true);
    const like = likePattern(`%${query}%`, false);
    const matches = [...this.store.contacts.values()].filter(
      (c) =>
        c.accountId === account.id &&
        (ilike.test(c.name) ||
          (c.email !== null && ilike.test(c.email)) ||
          (c.phoneNumber !== null && ilike.test(c.phoneNumber)) ||
          (c.identifier !== null && like.test(c.identifier))),
    );
    const sorted = sortContacts(matches, params['sort']);
    const offset = (toI(currentPage) - 1) * CONTACTS_PER_PAGE;
    if (offset < 0) throw new Error('PG::InvalidRowCountInResultOffsetClause: ERROR:  OFFSET must not be negative');
    const window = sorted.slice(offset, offset + CONTACTS_PER_PAGE + 1);
    const hasMore = window.length > CONTACTS_PER_PAGE;
    const results = window.slice(0, CONTACTS_PER_PAGE);
    const withInboxes = present(params['include_contact_inboxes'])
      ? params['include_contact_inboxes'] === 'true'
      : true;
    return json(200, {
      meta: { count: results.length, current_page: currentPage, has_more: hasMore },
      payload: results.map((c) => this.views.contact(c, withInboxes)),
    });
  }

  /** ContactsController#create (+ ContactInboxBuilder when inbox_id is given). */
  private createContact({ params, account }: Context): ApiResponse {
    const { contact, contactInbox } = this.store.transaction(() => {
      const created = this.store.createContact(account.id, {
        name: castText(params['name'] ?? null) ?? '',
        ...optional('email', castText(params['email'] ?? null)),
        ...optional('phoneNumber', castText(params['phone_number'] ?? null)),
        ...optional('identifier', castText(params['identifier'] ?? null)),
        blocked: castBoolean(params['blocked'] ?? null) ?? false,
        additionalAttributes: hashParam(params['additional_attributes']),
        customAttributes: hashParam(params['custom_attributes']),
      });
      let link: ContactInboxRecord | null = null;
      if (present(params['inbox_id'])) {
        link = this.store.buildContactInbox(
          created,
          this.findInbox(account, params['inbox_id']),
          sourceIdParam(params['source_id']),
        );
      }
      return { contact: created, contactInbox: link };
    });
    const inbox = contactInbox ? this.store.inboxes.get(contactInbox.inboxId) : undefined;
    return json(200, {
      payload: {
        contact: this.views.contact(contact, true),
        contact_inbox: {
          inbox: inbox ? this.views.inboxColumns(inbox) : null,
          source_id: contactInbox?.sourceId ?? null,
        },
      },
    });
  }

  /** Contacts::ConversationsController#index. */
  private contactConversations({ params, actor, account }: Context): ApiResponse {
    const user = requireUser(actor);
    const contact = this.findContact(account, params['contact_id']);
    const isAdmin = this.store.membership(user, account.id)?.role === 'administrator';
    const list = [...this.store.conversations.values()]
      .filter((c) => c.accountId === account.id && c.contactId === contact.id)
      .filter((c) => isAdmin || this.store.requireInbox(c.inboxId).memberIds.has(user.id))
      .sort((a, b) => b.lastActivityAt - a.lastActivityAt || b.dbId - a.dbId)
      .slice(0, 20);
    return json(200, { payload: list.map((c) => this.views.conversation(c)) });
  }

  /** Contacts::ContactInboxesController#create. */
  private createContactInbox({ params, actor, account }: Context): ApiResponse {
    const contact = this.findContact(account, params['contact_id']);
    const inbox = this.findInbox(account, params['inbox_id']);
    this.store.authorizeInbox(actor, inbox);
    const contactInbox = this.store.buildContactInbox(contact, inbox, sourceIdParam(params['source_id']));
    if (!contactInbox) throw new Error("undefined method 'source_id' for nil");
    return json(200, { source_id: contactInbox.sourceId, inbox: this.views.inboxSlim(inbox) });
  }

  /** `InboxesController#sync_templates` (admin only, InboxPolicy): enqueues `Channels::Whatsapp::TemplatesSyncJob`. */
  private syncTemplates({ params, actor, account }: Context): ApiResponse {
    const inbox = this.findInbox(account, params['id']);
    if (actor.kind !== 'user' || this.store.membership(actor.user, account.id)?.role !== 'administrator') {
      throw new NotAuthorized();
    }
    this.templateSyncs.push(inbox.id);
    return json(200, { message: 'Template sync initiated successfully' });
  }

  /** Inbox ids whose template sync was asked for, in order (the sync itself is Meta's side: set templates directly). */
  readonly templateSyncs: number[] = [];

  // WebhooksController: `check_authorization` (WebhookPolicy, administrators only) runs before `fetch_webhook`.

  private webhooksIndex({ actor, account }: Context): ApiResponse {
    this.authorizeAdministrator(actor, account);
    const list = this.webhooks.forAccount(account.id).map((webhook) => this.views.webhook(webhook));
    return json(200, { payload: { webhooks: list } });
  }

  /** `Current.account.webhooks.new(webhook_params).save!`. */
  private createWebhook(context: Context): ApiResponse {
    this.authorizeAdministrator(context.actor, context.account);
    const webhook = this.webhooks.create(context.account.id, webhookParams(context));
    return json(200, { payload: { webhook: this.views.webhook(webhook) } });
  }

  private updateWebhook(context: Context): ApiResponse {
    this.authorizeAdministrator(context.actor, context.account);
    const webhook = this.findWebhook(context);
    this.webhooks.update(webhook, webhookParams(context));
    return json(200, { payload: { webhook: this.views.webhook(webhook) } });
  }

  /** `destroy!` then `head :ok`. */
  private destroyWebhook(context: Context): ApiResponse {
    this.authorizeAdministrator(context.actor, context.account);
    this.webhooks.destroy(this.findWebhook(context).id);
    return {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' },
      body: '',
    };
  }

  private authorizeAdministrator(actor: Actor, account: AccountRecord): void {
    if (this.store.membership(requireUser(actor), account.id)?.role !== 'administrator') throw new NotAuthorized();
  }

  private findWebhook({ params, account }: Context): WebhookRecord {
    const id = castInteger(params['id'] ?? null);
    const webhook = this.webhooks.forAccount(account.id).find((w) => w.id === id);
    if (!webhook) throw new RecordNotFound();
    return webhook;
  }

  private findInbox(account: AccountRecord, id: ParamValue | undefined): InboxRecord {
    const inboxId = castInteger(id ?? null);
    const inbox = [...this.store.inboxes.values()].find((i) => i.accountId === account.id && i.id === inboxId);
    if (!inbox) throw new RecordNotFound();
    return inbox;
  }

  private findContact(account: AccountRecord, id: ParamValue | undefined): ContactRecord {
    const contactId = castInteger(id ?? null);
    const contact = [...this.store.contacts.values()].find((c) => c.accountId === account.id && c.id === contactId);
    if (!contact) throw new RecordNotFound();
    return contact;
  }
}

// Stand-ins so public routes share the controller signature; they never reach account-scoped code.
const placeholderAccount: AccountRecord = { id: 0, name: '', status: 'active', nextDisplayId: 1, createdAt: 0 };
const placeholderActor: Actor = {
  kind: 'agent_bot',
  bot: { id: 0, name: '', token: '', accountId: null, inboxIds: new Set() },
};

function route(
  method: string,
  path: string,
  scope: Scope,
  controller: string,
  action: string,
  handle: (context: Context) => ApiResponse,
): Route {
  const source = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? `(?<${segment.slice(1)}>${RESERVED}[^/.?]+)` : segment))
    .join('/');
  return { method, pattern: new RegExp(`^${source}(?:\\.json)?$`), scope, controller, action, handle };
}

function requireUser(actor: Actor) {
  if (actor.kind !== 'user') throw new NotAuthorized();
  return actor.user;
}

function header(headers: ApiRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function json(status: number, body: unknown): ApiResponse {
  return {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': status === 200 ? 'max-age=0, private, must-revalidate' : 'no-cache',
    },
    body: railsJson(body),
  };
}

/** ActionDispatch::PublicExceptions for a request inside an `/api` route (`defaults: { format: 'json' }`). */
export function railsError(status: number): ApiResponse {
  return json(status, { status, error: STATUS_CODES[status] ?? 'Error' });
}

/** No route matched: PublicExceptions answers JSON only when the request asked for JSON, else `public/404.html`. */
export function routingError(request: Pick<ApiRequest, 'path' | 'headers'>): ApiResponse {
  const accept = header(request.headers, 'accept') ?? '';
  if (request.path.endsWith('.json') || /application\/json/i.test(accept)) return railsError(404);
  return {
    status: 404,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: '<!DOCTYPE html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n  <title>Page not found</title>\n</head>\n<body>\n  <div class="error-number">404</div>\n  <h1>This page doesn\'t exist</h1>\n</body>\n</html>\n',
  };
}

/** A bug in the fake itself (not a modelled Ruby exception): it must surface, not become a 500. */
export function isProgrammingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError;
}

type ScalarParam = string | number | boolean | null | UploadedFile;

/** Rails' permitted scalar types. */
function isScalarParam(value: ParamValue | undefined): value is ScalarParam {
  return value !== undefined && (value === null || typeof value !== 'object' || value instanceof UploadedFile);
}

/**
 * ParamsWrapper (a JSON body without a `webhook` key is wrapped: its webhook attributes move under `webhook`), then
 * `params.require(:webhook).permit(:inbox_id, :name, :url, subscriptions: [])` and the column casts.
 */
function webhookParams({ request, params }: Context): WebhookAttributes {
  let wrapped: ParamValue | undefined = params['webhook'];
  const contentType = header(request.headers, 'content-type') ?? '';
  const mime = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (!('webhook' in params) && JSON_MIME_TYPES.has(mime)) {
    const body = parseBody(contentType, request.rawBody).params;
    const slice: ParamHash = {};
    for (const key of WEBHOOK_ATTRIBUTES) {
      const value = body[key];
      if (value !== undefined) slice[key] = value;
    }
    wrapped = slice;
  }
  if (wrapped !== false && !present(wrapped)) throw new ParameterMissing('webhook');
  if (!isParamHash(wrapped)) throw new UnhandledError("undefined method 'permit'");
  const out: WebhookAttributes = {};
  const url = wrapped['url'];
  if (isScalarParam(url)) out.url = castText(url);
  const name = wrapped['name'];
  if (isScalarParam(name)) out.name = castText(name);
  const inboxId = wrapped['inbox_id'];
  if (isScalarParam(inboxId)) out.inboxId = castInteger(inboxId);
  const subscriptions = wrapped['subscriptions'];
  // An array of scalars is kept (deep_munge has already dropped its nils); anything else is filtered out.
  if (Array.isArray(subscriptions) && subscriptions.every(isScalarParam)) {
    out.subscriptions = subscriptions
      .filter((s) => s !== null)
      .map((s) => (s instanceof UploadedFile ? s.filename : s));
  }
  return out;
}

function listParam(value: ParamValue): ParamValue[] {
  if (Array.isArray(value)) return value;
  return [value];
}

function hashParam(value: ParamValue | undefined): Record<string, unknown> {
  return isParamHash(value) ? (JSON.parse(JSON.stringify(value)) as Record<string, unknown>) : {};
}

function sourceIdParam(value: ParamValue | undefined): string | null {
  return value === undefined || value === null ? null : castText(value);
}

function optional<K extends string, V>(key: K, value: V | null): { [P in K]?: V } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: V };
}

function conversationStatus(value: ParamValue): ConversationStatus {
  if (typeof value === 'string' && (CONVERSATION_STATUSES as readonly string[]).includes(value)) {
    return value as ConversationStatus;
  }
  if (typeof value === 'number' && Number.isInteger(value)) {
    const status = CONVERSATION_STATUSES[value];
    if (status) return status;
  }
  throw new Error(`'${String(value)}' is not a valid status`);
}

function sortContacts(contacts: ContactRecord[], sort: ParamValue | undefined): ContactRecord[] {
  const raw = typeof sort === 'string' ? sort : '';
  const direction = raw.startsWith('-') ? -1 : 1;
  const field = raw.replace(/^-/, '');
  const value = (c: ContactRecord): string | number | null => {
    switch (field) {
      case 'name':
        return c.name.toLowerCase();
      case 'email':
        return c.email;
      case 'phone_number':
        return c.phoneNumber;
      case 'created_at':
        return c.createdAt;
      case 'last_activity_at':
        return c.lastActivityAt;
      default:
        return c.id;
    }
  };
  return [...contacts].sort((a, b) => {
    const left = value(a);
    const right = value(b);
    if (left === right) return a.id - b.id;
    if (left === null) return 1;
    if (right === null) return -1;
    return (left < right ? -1 : 1) * direction;
  });
}
