import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { SLACK_DEFAULTS } from './slack/defaults.ts';
import {
  type ApiResult,
  type ChannelInit,
  type SlackEphemeral,
  type SlackMessage,
  SlackModel,
  type SlackViewRecord,
  type UserInit,
} from './slack/model.ts';
import { type FakeSocketMode, SocketModeServer } from './slack/socket-mode.ts';

export { SLACK_DEFAULTS } from './slack/defaults.ts';
export type { ChannelInit, SlackEdit, SlackEphemeral, SlackMessage, SlackViewRecord, UserInit } from './slack/model.ts';
export type { EnvelopeType, FakeSocketMode, SendOptions, SocketEnvelope } from './slack/socket-mode.ts';

export interface FakeSlackOptions {
  /** Other Bearer tokens get `invalid_auth`. @default 'xoxb-test-bot-token' */
  botToken?: string;
  /** Only for `apps.connections.open`. @default 'xapp-test-app-token' */
  appToken?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /** @default ['commands','chat:write','chat:write.public','users:read'] */
  scopes?: string[];
  /** chat.postMessage per channel: Slack allows ~1/s with short bursts. @default {perSecond: 1, burst: 3} */
  postRate?: { perSecond: number; burst: number };
  /** chat.update is Tier 3, per app. @default {perMinute: 50, burst: 50} */
  updateRate?: { perMinute: number; burst: number };
  /** ms clock for ts values, rate limits and `at` fields. @default Date.now */
  now?: () => number;
}

/** One Web API call as the fake received it. */
export interface SlackCall {
  method: string;
  /** Form/JSON fields without `token`; `blocks`, `attachments`, `view`, `metadata` JSON-decoded. */
  args: Record<string, unknown>;
  token: string | null;
  at: number;
  status: number;
  ok: boolean;
  error?: string;
}

export interface SlackFault {
  /** Answer HTTP 200 `{ok:false, error}`. */
  error?: string;
  /** Answer this HTTP status (body `{ok:false, error}`). */
  status?: number;
  /** Answer 429 with this `Retry-After`. */
  retryAfterSeconds?: number;
  /** @default 1 */
  times?: number;
  /** Hold the request this long first (alone: then answer normally). */
  delayMs?: number;
}

export interface SlackResponseUrlPost {
  id: string;
  /** Parsed JSON (as Bolt's `respond()` sends it), else the raw text. */
  body: unknown;
  status: number;
  at: number;
}

export interface SlackFileObject {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  url_private: string;
  url_private_download: string;
}

export interface FakeSlack {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/api/` — pass as `slackApiUrl`. */
  readonly apiUrl: string;
  readonly port: number;
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;
  readonly socket: FakeSocketMode;

  addChannel(init: ChannelInit): void;
  /** Whether the bot is a member of the channel. */
  setMember(channelId: string, member: boolean): void;
  addUser(init: UserInit): void;
  /** A message by someone else (default: the seeded human), e.g. the target of a message shortcut. Returns its ts. */
  addMessage(init: { channel: string; text: string; user?: string; threadTs?: string; blocks?: unknown[] }): string;
  /** The stable `D…` id of the app's DM with a user. */
  dmChannelId(userId: string): string;

  calls(method?: string): SlackCall[];
  /** Current messages (parents and replies) in posting order. */
  messages(channel?: string): SlackMessage[];
  /** Replies to `ts` in order (without the parent). */
  thread(channel: string, ts: string): SlackMessage[];
  ephemerals(): SlackEphemeral[];
  views(): SlackViewRecord[];
  /** 429s served (rate limits and injected), for one method or in total. */
  rateLimited(method?: string): number;

  /** The next `times` calls of `method` (`'*'` = any, `'response_url'` = response_url posts) fail this way. */
  fault(method: string, fault: SlackFault): void;
  clearFaults(): void;

  /** A response_url on the fake: 5 uses within 30 minutes, then 404 `used_url` / `expired_url`. */
  responseUrl(name?: string): string;
  /**
   * A file someone uploaded: the object Slack puts in `files[]` of a message event. Its `url_private_download` serves
   * the bytes only with the bot token (and `files:read`); without them Slack answers its HTML sign-in page.
   */
  addFile(init: { name: string; mimetype: string; bytes: Uint8Array; filetype?: string }): SlackFileObject;
  /** Downloads of files, in order (to check a file was streamed once, with the token). */
  fileDownloads(): Array<{ id: string; authorized: boolean }>;
  responses(id?: string): SlackResponseUrlPost[];

  /** Polls until `predicate` returns a truthy value (a throw counts as not yet); rejects listing recent calls. */
  waitFor<T>(predicate: () => T, timeoutMs?: number): Promise<T>;

  /** `'refuse'`: stop listening and drop connections (ECONNREFUSED); `'unavailable'`: answer 503 to everything. */
  down(mode?: 'refuse' | 'unavailable'): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'metadata']);
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlackServer(options);
  await fake.up();
  return fake;
}

class FakeSlackServer implements FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;
  readonly socket: SocketModeServer;
  private readonly model: SlackModel;
  private readonly scopes: string[];
  private readonly now: () => number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly log: SlackCall[] = [];
  private readonly faults: Array<{ method: string; fault: SlackFault; remaining: number }> = [];
  private readonly throttled = new Map<string, number>();
  private readonly responseUrls = new Map<string, { createdAt: number; uses: number }>();
  private readonly posts: SlackResponseUrlPost[] = [];
  private mode: 'up' | 'refuse' | 'unavailable' = 'refuse';
  private boundPort = 0;
  private urlSeq = 0;

  constructor(options: FakeSlackOptions) {
    this.now = options.now ?? Date.now;
    this.botToken = options.botToken ?? SLACK_DEFAULTS.botToken;
    this.appToken = options.appToken ?? SLACK_DEFAULTS.appToken;
    this.teamId = options.teamId ?? SLACK_DEFAULTS.teamId;
    this.botUserId = options.botUserId ?? SLACK_DEFAULTS.botUserId;
    this.botId = options.botId ?? SLACK_DEFAULTS.botId;
    this.appId = options.appId ?? SLACK_DEFAULTS.appId;
    this.scopes = options.scopes ?? [...SLACK_DEFAULTS.scopes];
    this.model = new SlackModel({
      botToken: this.botToken,
      appToken: this.appToken,
      teamId: this.teamId,
      teamDomain: SLACK_DEFAULTS.teamDomain,
      botUserId: this.botUserId,
      botId: this.botId,
      appId: this.appId,
      scopes: this.scopes,
      postRate: options.postRate ?? { perSecond: 1, burst: 3 },
      updateRate: options.updateRate ?? { perMinute: 50, burst: 50 },
      now: this.now,
    });
    this.model.addUser({ id: this.botUserId, name: SLACK_DEFAULTS.botName, isBot: true });
    this.model.addUser({ ...SLACK_DEFAULTS.user });
    this.model.addChannel({ ...SLACK_DEFAULTS.channel });
    this.socket = new SocketModeServer(this.appId, this.now);
    this.model.openConnection = () => this.socket.issueUrl(this.url);

    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake Slack bug: ${String(error)}`);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.mode === 'up') this.socket.handleUpgrade(req, socket, head);
      else socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  get port(): number {
    return this.boundPort;
  }

  // ---- model control

  addChannel(init: ChannelInit): void {
    this.model.addChannel(init);
  }

  setMember(channelId: string, member: boolean): void {
    this.model.requireChannel(channelId).member = member;
  }

  addUser(init: UserInit): void {
    this.model.addUser(init);
  }

  addMessage(init: { channel: string; text: string; user?: string; threadTs?: string; blocks?: unknown[] }): string {
    return this.model.addMessage(init);
  }

  dmChannelId(userId: string): string {
    return this.model.dmChannelId(userId);
  }

  // ---- recorded state

  calls(method?: string): SlackCall[] {
    return structuredClone(method === undefined ? this.log : this.log.filter((c) => c.method === method));
  }

  messages(channel?: string): SlackMessage[] {
    return structuredClone(this.model.messages.filter((m) => channel === undefined || m.channel === channel));
  }

  thread(channel: string, ts: string): SlackMessage[] {
    return structuredClone(this.model.messages.filter((m) => m.channel === channel && m.threadTs === ts));
  }

  ephemerals(): SlackEphemeral[] {
    return structuredClone(this.model.ephemerals);
  }

  views(): SlackViewRecord[] {
    return structuredClone(this.model.views);
  }

  rateLimited(method?: string): number {
    if (method !== undefined) return this.throttled.get(method) ?? 0;
    return [...this.throttled.values()].reduce((sum, n) => sum + n, 0);
  }

  fault(method: string, fault: SlackFault): void {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new TypeError(`fault times must be an integer ≥ 1, got ${times}`);
    this.faults.push({ method, fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  responseUrl(name?: string): string {
    this.urlSeq += 1;
    const id = name ?? `${this.teamId}/${1000000000 + this.urlSeq}/${Math.random().toString(36).slice(2, 14)}`;
    if (!this.responseUrls.has(id)) this.responseUrls.set(id, { createdAt: this.now(), uses: 0 });
    return `${this.url}/respond/${id}`;
  }

  private readonly files = new Map<string, { object: SlackFileObject; bytes: Uint8Array }>();
  private readonly downloads: Array<{ id: string; authorized: boolean }> = [];

  addFile(init: { name: string; mimetype: string; bytes: Uint8Array; filetype?: string }): SlackFileObject {
    const id = `F${String(1_000_000 + this.files.size + 1)}TEST`;
    const url = `${this.url}/files-pri/${this.teamId}-${id}/download/${encodeURIComponent(init.name)}`;
    const object: SlackFileObject = {
      id,
      name: init.name,
      title: init.name,
      mimetype: init.mimetype,
      filetype: init.filetype ?? init.name.split('.').at(-1) ?? 'binary',
      size: init.bytes.byteLength,
      url_private: url,
      url_private_download: url,
    };
    this.files.set(id, { object, bytes: init.bytes });
    return structuredClone(object);
  }

  fileDownloads(): Array<{ id: string; authorized: boolean }> {
    return structuredClone(this.downloads);
  }

  responses(id?: string): SlackResponseUrlPost[] {
    return structuredClone(id === undefined ? this.posts : this.posts.filter((p) => p.id === id));
  }

  async waitFor<T>(predicate: () => T, timeoutMs = 2000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = predicate();
        if (value) return value;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) break;
      await delay(5);
    }
    const recent = this.log
      .slice(-10)
      .map(
        (c) => `  ${c.method} ${c.ok ? 'ok' : `${c.status} ${c.error ?? ''}`} ${JSON.stringify(c.args).slice(0, 200)}`,
      );
    const last = lastError === undefined ? '' : `\nlast error: ${String(lastError)}`;
    throw new Error(
      `fake Slack: condition not met within ${timeoutMs} ms${last}\nlast ${recent.length} of ${this.log.length} calls:\n${recent.join('\n')}`,
    );
  }

  // ---- lifecycle

  async down(mode: 'refuse' | 'unavailable' = 'refuse'): Promise<void> {
    this.socket.terminate();
    if (mode === 'unavailable') {
      this.mode = 'unavailable';
      return;
    }
    await this.stopListening();
  }

  async up(): Promise<void> {
    if (!this.server.listening) {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.boundPort, '127.0.0.1', () => {
          this.server.off('error', reject);
          resolve();
        });
      });
      this.boundPort = (this.server.address() as AddressInfo).port;
    }
    this.mode = 'up';
  }

  async close(): Promise<void> {
    await this.socket.close();
    await this.stopListening();
  }

  private async stopListening(): Promise<void> {
    this.mode = 'refuse';
    const closed = this.server.listening ? new Promise((resolve) => this.server.close(resolve)) : Promise.resolve();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  // ---- HTTP

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (this.mode !== 'up') return send(res, 503, 'text/plain', 'Service Unavailable');
    if (url.pathname.startsWith('/api/')) {
      const result = await this.onApi(decodeURIComponent(url.pathname.slice(5)), req, raw, url.searchParams);
      return send(res, result.status, 'application/json; charset=utf-8', JSON.stringify(result.body), result.headers);
    }
    const file = /^\/files-pri\/[^/]+-(F[^/]+)\/download\//.exec(url.pathname);
    if (file !== null && req.method === 'GET') {
      const stored = this.files.get(file[1] ?? '');
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const authorized = bearer === this.botToken && this.scopes.includes('files:read');
      this.downloads.push({ id: file[1] ?? '', authorized });
      if (stored === undefined) return send(res, 404, 'text/plain', 'Not Found');
      // Slack answers an unauthorised download with its sign-in page, status 200.
      if (!authorized)
        return send(res, 200, 'text/html; charset=utf-8', '<!DOCTYPE html><html><body>Sign in to Slack</body></html>');
      res.writeHead(200, { 'content-type': stored.object.mimetype, 'content-length': String(stored.bytes.byteLength) });
      res.end(Buffer.from(stored.bytes));
      return;
    }
    if (url.pathname.startsWith('/respond/') && req.method === 'POST') {
      const [status, text] = await this.onResponseUrl(url.pathname.slice(9), req.headers['content-type'], raw);
      return send(res, status, 'text/html', text);
    }
    send(res, 404, 'text/plain', 'Not Found');
  }

  private async onApi(method: string, req: IncomingMessage, raw: string, query: URLSearchParams): Promise<ApiResult> {
    const at = this.now();
    let args: Record<string, unknown> = {};
    let invalidJson = false;
    try {
      args = parseArgs(req.headers['content-type'], raw, query);
    } catch {
      invalidJson = true;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const bodyToken = typeof args['token'] === 'string' ? args['token'] : undefined;
    delete args['token'];
    const token = bearer ?? bodyToken ?? null;

    const result: ApiResult = invalidJson
      ? { status: 200, body: { ok: false, error: 'invalid_json' } }
      : ((await this.applyFault(method)) ?? this.model.call(method, args, token));
    if (result.status === 429) this.throttled.set(method, (this.throttled.get(method) ?? 0) + 1);
    const ok = result.body['ok'] === true;
    const error = typeof result.body['error'] === 'string' ? result.body['error'] : undefined;
    this.log.push({ method, args, token, at, status: result.status, ok, ...(error === undefined ? {} : { error }) });
    return result;
  }

  private async applyFault(method: string): Promise<ApiResult | undefined> {
    const index = this.faults.findIndex((f) => f.method === method || (f.method === '*' && method !== 'response_url'));
    const entry = this.faults[index];
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.faults.splice(index, 1);
    const { fault } = entry;
    if (fault.delayMs) await delay(fault.delayMs);
    if (fault.retryAfterSeconds !== undefined) {
      const headers = { 'retry-after': String(fault.retryAfterSeconds) };
      return { status: 429, headers, body: { ok: false, error: fault.error ?? 'ratelimited' } };
    }
    if (fault.status !== undefined)
      return { status: fault.status, body: { ok: false, error: fault.error ?? 'fatal_error' } };
    if (fault.error !== undefined) return { status: 200, body: { ok: false, error: fault.error } };
    return undefined;
  }

  private async onResponseUrl(id: string, contentType: string | undefined, raw: string): Promise<[number, string]> {
    const at = this.now();
    const entry = this.responseUrls.get(id) ?? { createdAt: at, uses: 0 };
    this.responseUrls.set(id, entry);
    let body: unknown = raw;
    try {
      body = contentType?.includes('json') ? JSON.parse(raw) : raw;
    } catch {
      // keep the text
    }
    const injected = await this.applyFault('response_url');
    let status = 200;
    let text = 'ok';
    if (injected) [status, text] = [injected.status, String(injected.body['error'])];
    else if (at - entry.createdAt > RESPONSE_URL_TTL_MS) [status, text] = [404, 'expired_url'];
    else if (entry.uses >= RESPONSE_URL_USES) [status, text] = [404, 'used_url'];
    else entry.uses += 1;
    this.posts.push({ id, body, status, at });
    return [status, text];
  }
}

function parseArgs(contentType: string | undefined, raw: string, query: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const put = (key: string, value: string) => {
    let decoded: unknown = value;
    if (JSON_FIELDS.has(key)) {
      try {
        decoded = JSON.parse(value);
      } catch {
        // Slack answers invalid_blocks_format / invalid_arguments for these
      }
    }
    args[key] = decoded;
  };
  for (const [key, value] of query) put(key, value);
  if ((contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json') {
    const parsed: unknown = JSON.parse(raw || '{}');
    if (typeof parsed === 'object' && parsed !== null) Object.assign(args, parsed);
  } else {
    for (const [key, value] of new URLSearchParams(raw)) put(key, value);
  }
  return args;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
