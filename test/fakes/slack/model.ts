import { randomBytes } from 'node:crypto';

export interface SlackEdit {
  text: string;
  blocks?: unknown[];
  at: number;
}

export interface SlackMessage {
  channel: string;
  ts: string;
  /** Parent ts for thread replies (never set on the parent itself). */
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  /** The bot user id for messages the app posted, else the human author. */
  user: string;
  replyBroadcast?: boolean;
  /** Each `chat.update` applied to the message, oldest first (the content it set). */
  edits: SlackEdit[];
  /** Reaction names the bot added (`reactions.add`). */
  reactions?: string[];
}

export interface SlackEphemeral {
  channel: string;
  user: string;
  messageTs: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  at: number;
}

export interface SlackViewRecord {
  method: 'views.open' | 'views.update' | 'views.push';
  id: string;
  hash: string;
  triggerId?: string;
  view: Record<string, unknown>;
  at: number;
}

export interface ChannelInit {
  id: string;
  name: string;
  isPrivate?: boolean;
  /** Whether the bot is a member. @default true */
  member?: boolean;
  /** Human members; omitted = every known user. Matters for `chat.postEphemeral` only. */
  users?: string[];
}

export interface UserInit {
  id: string;
  name: string;
  realName?: string;
  displayName?: string;
  isBot?: boolean;
}

export interface ModelOptions {
  botToken: string;
  appToken: string;
  teamId: string;
  teamDomain: string;
  botUserId: string;
  botId: string;
  appId: string;
  scopes: readonly string[];
  postRate: { perSecond: number; burst: number };
  updateRate: { perMinute: number; burst: number };
  now: () => number;
}

export interface ApiResult {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

interface Channel {
  id: string;
  name: string;
  isPrivate: boolean;
  isIm: boolean;
  member: boolean;
  users: Set<string> | null;
}

type Args = Record<string, unknown>;

class SlackApiError extends Error {
  readonly extra: Record<string, unknown>;
  constructor(code: string, extra: Record<string, unknown> = {}) {
    super(code);
    this.extra = extra;
  }
}

const fail = (code: string, extra?: Record<string, unknown>): never => {
  throw new SlackApiError(code, extra);
};

const MAX_TEXT = 40_000;
const MAX_BLOCKS = 50;

/** Token bucket: `take()` returns 0 when a token was available, else the milliseconds until one is. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;
  private readonly burst: number;

  constructor(perMs: number, burst: number, now: number) {
    this.perMs = perMs;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.perMs);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.perMs);
  }
}

interface MethodSpec {
  token: 'bot' | 'app' | 'any';
  scope?: string;
  run: (args: Args) => Record<string, unknown>;
}

/** Workspace state and the Web API methods, answering as Slack does (slack.md §1b, §2). */
export class SlackModel {
  readonly channels = new Map<string, Channel>();
  readonly users = new Map<string, Required<UserInit>>();
  readonly messages: SlackMessage[] = [];
  readonly ephemerals: SlackEphemeral[] = [];
  readonly views: SlackViewRecord[] = [];
  private readonly o: ModelOptions;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly liveViews = new Map<string, { hash: string; view: Record<string, unknown> }>();
  private readonly usedTriggers = new Set<string>();
  private lastTsMicros = 0;
  private readonly methods: Record<string, MethodSpec>;
  /** Called by `apps.connections.open` for a fresh Socket Mode URL. */
  openConnection: () => string = () => fail('internal_error');

  constructor(options: ModelOptions) {
    this.o = options;
    const o = options;
    this.methods = {
      'auth.test': {
        token: 'any',
        run: () => ({
          url: `https://${o.teamDomain}.slack.com/`,
          team: 'Fake Workspace',
          user: this.users.get(o.botUserId)?.name ?? 'bot',
          team_id: o.teamId,
          user_id: o.botUserId,
          bot_id: o.botId,
          is_enterprise_install: false,
        }),
      },
      'apps.connections.open': { token: 'app', run: () => ({ url: this.openConnection() }) },
      'chat.postMessage': { token: 'bot', scope: 'chat:write', run: (a) => this.postMessage(a) },
      'chat.update': { token: 'bot', scope: 'chat:write', run: (a) => this.update(a) },
      'chat.postEphemeral': { token: 'bot', scope: 'chat:write', run: (a) => this.postEphemeral(a) },
      'users.info': { token: 'bot', scope: 'users:read', run: (a) => ({ user: this.userJson(str(a['user'])) }) },
      'reactions.add': { token: 'bot', scope: 'reactions:write', run: (a) => this.addReaction(a) },
      'views.open': { token: 'bot', run: (a) => this.openView('views.open', a) },
      'views.push': { token: 'bot', run: (a) => this.openView('views.push', a) },
      'views.update': { token: 'bot', run: (a) => this.updateView(a) },
    };
  }

  addChannel(init: ChannelInit): void {
    this.channels.set(init.id, {
      id: init.id,
      name: init.name,
      isPrivate: init.isPrivate ?? false,
      isIm: false,
      member: init.member ?? true,
      users: init.users ? new Set(init.users) : null,
    });
  }

  addUser(init: UserInit): void {
    this.users.set(init.id, {
      id: init.id,
      name: init.name,
      realName: init.realName ?? init.name,
      displayName: init.displayName ?? '',
      isBot: init.isBot ?? false,
    });
  }

  requireChannel(id: string): Channel {
    const channel = this.channels.get(id);
    if (!channel) throw new Error(`fake Slack: no channel ${id}`);
    return channel;
  }

  /** A unique, increasing Slack timestamp from the injected clock. */
  nextTs(): string {
    this.lastTsMicros = Math.max(Math.floor(this.o.now() * 1000), this.lastTsMicros + 100);
    return `${Math.floor(this.lastTsMicros / 1e6)}.${String(this.lastTsMicros % 1e6).padStart(6, '0')}`;
  }

  /** Adds a message from someone (a human by default) without the API; returns its ts. */
  addMessage(init: { channel: string; text: string; user?: string; threadTs?: string; blocks?: unknown[] }): string {
    const channel = this.resolveChannel(init.channel);
    const message: SlackMessage = {
      channel: channel.id,
      ts: this.nextTs(),
      text: init.text,
      user: init.user ?? [...this.users.values()].find((u) => !u.isBot)?.id ?? 'U0NOBODY01',
      edits: [],
      ...(init.threadTs === undefined ? {} : { threadTs: this.threadParent(channel.id, init.threadTs) }),
      ...(init.blocks === undefined ? {} : { blocks: init.blocks }),
    };
    this.messages.push(message);
    return message.ts;
  }

  dmChannelId(userId: string): string {
    return `D${userId.slice(1)}`;
  }

  call(method: string, args: Args, token: string | null): ApiResult {
    const o = this.o;
    const headers: Record<string, string> = { 'x-oauth-scopes': o.scopes.join(',') };
    const spec = this.methods[method];
    try {
      if (!spec) return fail('unknown_method');
      if (!token) return fail('not_authed');
      const kind = token === o.botToken ? 'bot' : token === o.appToken ? 'app' : null;
      if (!kind) return fail('invalid_auth');
      if (spec.token !== 'any' && spec.token !== kind) return fail('not_allowed_token_type');
      if (spec.scope && kind === 'bot' && !o.scopes.includes(spec.scope)) {
        headers['x-accepted-oauth-scopes'] = spec.scope;
        return fail('missing_scope', { needed: spec.scope, provided: o.scopes.join(',') });
      }
      const waitMs = this.rateLimit(method, args);
      if (waitMs > 0) {
        const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
        return {
          status: 429,
          headers: { ...headers, 'retry-after': retryAfter },
          body: { ok: false, error: 'ratelimited' },
        };
      }
      return { status: 200, headers, body: { ok: true, ...spec.run(args) } };
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
      return { status: 200, headers, body: { ok: false, error: error.message, ...error.extra } };
    }
  }

  private rateLimit(method: string, args: Args): number {
    const now = this.o.now();
    let key: string;
    let make: () => TokenBucket;
    if (method === 'chat.postMessage') {
      const target = str(args['channel']);
      key = `post:${this.findChannel(target)?.id ?? target}`;
      make = () => new TokenBucket(this.o.postRate.perSecond / 1000, this.o.postRate.burst, now);
    } else if (method === 'chat.update') {
      key = 'update';
      make = () => new TokenBucket(this.o.updateRate.perMinute / 60_000, this.o.updateRate.burst, now);
    } else {
      return 0;
    }
    const bucket = this.buckets.get(key) ?? make();
    this.buckets.set(key, bucket);
    return bucket.take(now);
  }

  /** By id, by name (`general` or `#general`), or a user id meaning the app's DM with that user. */
  private findChannel(ref: string): Channel | undefined {
    const byId = this.channels.get(ref);
    if (byId) return byId;
    const user = this.users.get(ref);
    if (user && /^[UW]/.test(ref)) {
      const dm: Channel = {
        id: this.dmChannelId(ref),
        name: ref,
        isPrivate: true,
        isIm: true,
        member: true,
        users: new Set([ref]),
      };
      if (!this.channels.has(dm.id)) this.channels.set(dm.id, dm);
      return this.channels.get(dm.id);
    }
    const name = ref.replace(/^#/, '');
    return [...this.channels.values()].find((c) => !c.isIm && c.name === name);
  }

  private resolveChannel(ref: string): Channel {
    return this.findChannel(ref) ?? fail('channel_not_found');
  }

  /** The channel, if the bot may post there: private/DM needs membership; public needs it or chat:write.public. */
  private postable(ref: string): Channel {
    const channel = this.resolveChannel(ref);
    if (channel.member) return channel;
    if (channel.isPrivate) return fail('channel_not_found');
    return this.o.scopes.includes('chat:write.public') ? channel : fail('not_in_channel');
  }

  private threadParent(channel: string, threadTs: string): string {
    const parent = this.messages.find((m) => m.channel === channel && m.ts === threadTs) ?? fail('thread_not_found');
    return parent.threadTs ?? parent.ts;
  }

  private content(args: Args, requireSome = true): { text: string; blocks?: unknown[] } {
    const text = str(args['text']);
    const blocks = args['blocks'] === undefined || args['blocks'] === '' ? undefined : args['blocks'];
    if (blocks !== undefined) {
      if (!Array.isArray(blocks)) fail('invalid_blocks_format');
      const list = blocks as unknown[];
      if (list.length > MAX_BLOCKS || !list.every((b) => typeof b === 'object' && b !== null && 'type' in b)) {
        fail('invalid_blocks');
      }
    }
    const hasBlocks = Array.isArray(blocks) && blocks.length > 0;
    if (requireSome && text === '' && !hasBlocks && args['attachments'] === undefined) fail('no_text');
    if (text.length > MAX_TEXT) fail('msg_too_long');
    return blocks === undefined ? { text } : { text, blocks: blocks as unknown[] };
  }

  private postMessage(args: Args): Record<string, unknown> {
    const channel = this.postable(str(args['channel']));
    const { text, blocks } = this.content(args);
    const threadArg = str(args['thread_ts']);
    const message: SlackMessage = {
      channel: channel.id,
      ts: '',
      text,
      user: this.o.botUserId,
      edits: [],
      ...(blocks === undefined ? {} : { blocks }),
      ...(threadArg === '' ? {} : { threadTs: this.threadParent(channel.id, threadArg) }),
      ...(isTrue(args['reply_broadcast']) ? { replyBroadcast: true } : {}),
    };
    message.ts = this.nextTs();
    this.messages.push(message);
    return { channel: channel.id, ts: message.ts, message: this.messageJson(message) };
  }

  /** `reactions.add`: errors as Slack's (message_not_found, already_reacted, invalid_name). */
  private addReaction(args: Args): Record<string, unknown> {
    const channel = this.resolveChannel(str(args['channel']));
    const ts = str(args['timestamp']);
    const name = str(args['name']);
    if (!/^[a-z0-9_+'-]+$/.test(name)) fail('invalid_name');
    const message = this.messages.find((m) => m.channel === channel.id && m.ts === ts) ?? fail('message_not_found');
    message.reactions ??= [];
    if (message.reactions.includes(name)) fail('already_reacted');
    message.reactions.push(name);
    return {};
  }

  private update(args: Args): Record<string, unknown> {
    const channel = this.resolveChannel(str(args['channel']));
    const ts = str(args['ts']);
    const message = this.messages.find((m) => m.channel === channel.id && m.ts === ts) ?? fail('message_not_found');
    if (message.user !== this.o.botUserId) fail('cant_update_message');
    const next = this.content(args, args['blocks'] !== undefined || message.blocks === undefined);
    message.text = next.text;
    // chat.update keeps the previous blocks when none are sent; an empty array removes them.
    if (next.blocks !== undefined) {
      if (next.blocks.length > 0) message.blocks = next.blocks;
      else delete message.blocks;
    }
    message.edits.push({
      text: message.text,
      at: this.o.now(),
      ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
    });
    return { channel: channel.id, ts, text: message.text, message: this.messageJson(message, true) };
  }

  private postEphemeral(args: Args): Record<string, unknown> {
    const channel = this.postable(str(args['channel']));
    const user = str(args['user']);
    const inChannel = this.users.has(user) && (channel.users === null || channel.users.has(user));
    if (!inChannel) fail('user_not_in_channel');
    const { text, blocks } = this.content(args);
    const threadTs = str(args['thread_ts']);
    const messageTs = this.nextTs();
    this.ephemerals.push({
      channel: channel.id,
      user,
      messageTs,
      text,
      at: this.o.now(),
      ...(blocks === undefined ? {} : { blocks }),
      ...(threadTs === '' ? {} : { threadTs }),
    });
    return { message_ts: messageTs };
  }

  private userJson(id: string): Record<string, unknown> {
    const user = this.users.get(id) ?? fail('user_not_found');
    return {
      id: user.id,
      team_id: this.o.teamId,
      name: user.name,
      deleted: false,
      real_name: user.realName,
      is_bot: user.isBot,
      is_app_user: false,
      profile: { real_name: user.realName, display_name: user.displayName, team: this.o.teamId },
    };
  }

  private openView(method: 'views.open' | 'views.push', args: Args): Record<string, unknown> {
    const triggerId = str(args['trigger_id']);
    if (triggerId === '') fail('invalid_arguments');
    if (this.usedTriggers.has(triggerId)) fail('exchanged_trigger_id');
    const view = objectArg(args['view']);
    this.usedTriggers.add(triggerId);
    return this.storeView(method, `V${randomId(10)}`, view, triggerId);
  }

  private updateView(args: Args): Record<string, unknown> {
    const id = str(args['view_id']);
    const current = this.liveViews.get(id) ?? fail('not_found');
    const hash = str(args['hash']);
    if (hash !== '' && hash !== current.hash) fail('hash_conflict');
    return this.storeView('views.update', id, objectArg(args['view']));
  }

  private storeView(method: SlackViewRecord['method'], id: string, view: Args, triggerId?: string) {
    const hash = `${Math.floor(this.o.now() / 1000)}.${randomId(8)}`;
    this.liveViews.set(id, { hash, view });
    this.views.push({ method, id, hash, view, at: this.o.now(), ...(triggerId === undefined ? {} : { triggerId }) });
    const json = { ...view, id, hash, team_id: this.o.teamId, app_id: this.o.appId, bot_id: this.o.botId };
    return { view: { state: { values: {} }, root_view_id: id, previous_view_id: null, ...json } };
  }

  private messageJson(m: SlackMessage, edited = false): Record<string, unknown> {
    return {
      type: 'message',
      user: m.user,
      bot_id: this.o.botId,
      app_id: this.o.appId,
      team: this.o.teamId,
      text: m.text,
      ts: m.ts,
      ...(m.blocks === undefined ? {} : { blocks: m.blocks }),
      ...(m.threadTs === undefined ? {} : { thread_ts: m.threadTs, parent_user_id: this.parentUser(m) }),
      ...(edited ? { edited: { user: this.o.botUserId, ts: this.nextTs() } } : {}),
    };
  }

  private parentUser(m: SlackMessage): string | undefined {
    return this.messages.find((p) => p.channel === m.channel && p.ts === m.threadTs)?.user;
  }
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true' || value === '1';
}

function objectArg(value: unknown): Args {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('invalid_arguments');
  return value as Args;
}

function randomId(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}
