import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { type WebSocket, WebSocketServer } from 'ws';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface SendOptions {
  envelopeId?: string;
  retryAttempt?: number;
  retryReason?: string;
  /** @default false for events_api, true otherwise (as Slack sends them) */
  acceptsResponsePayload?: boolean;
  /** Reject when no ack arrives in time. @default 3000 (Slack's ack deadline) */
  timeoutMs?: number;
}

export interface SocketEnvelope {
  envelopeId: string;
  type: EnvelopeType;
  payload: object;
  sentAt: number;
  /** The `payload` of the client's ack (`{}` for a bare `ack()`), once it arrived. */
  ack?: Record<string, unknown>;
  ackedAt?: number;
}

export interface FakeSocketMode {
  /** Whether at least one connection that got `hello` is open. */
  connected(): boolean;
  /** Connections accepted since start (a reconnect counts again). */
  connections(): number;
  /** Resolves once connected with at least `total` connections accepted so far. */
  waitForConnection(options?: { timeoutMs?: number; total?: number }): Promise<void>;
  /** Sends an envelope on the newest open connection; resolves with the ack's `payload`. */
  send(type: EnvelopeType, payload: object, options?: SendOptions): Promise<Record<string, unknown>>;
  /** Sends `{"type":"disconnect","reason":…}` to every open connection; the client closes and reconnects. */
  disconnect(reason: 'warning' | 'refresh_requested' | 'link_disabled' | 'too_many_websockets'): void;
  /** Abruptly drops every connection (no close handshake), like a network failure. */
  terminate(): void;
  envelopes(): SocketEnvelope[];
}

interface Pending {
  envelope: SocketEnvelope;
  ws: WebSocket;
  resolve: (payload: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const SERVER_PING_MS = 10_000;

/** Slack's Socket Mode endpoint (slack.md §1c) on the fake's HTTP server: `/link/?ticket=…`. */
export class SocketModeServer implements FakeSocketMode {
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false });
  private readonly tickets = new Set<string>();
  private readonly open: WebSocket[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly log: SocketEnvelope[] = [];
  private readonly appId: string;
  private readonly now: () => number;
  private total = 0;

  constructor(appId: string, now: () => number) {
    this.appId = appId;
    this.now = now;
  }

  /** A single-use ticket for `apps.connections.open`. */
  issueUrl(origin: string): string {
    const ticket = randomBytes(16).toString('hex');
    this.tickets.add(ticket);
    return `${origin.replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${this.appId}`;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/link/' || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.total += 1;
    this.open.push(ws);
    const ping = setInterval(() => ws.ping(), SERVER_PING_MS);
    ping.unref();
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(data.toString());
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      clearInterval(ping);
      const index = this.open.indexOf(ws);
      if (index >= 0) this.open.splice(index, 1);
      for (const [id, p] of this.pending) {
        if (p.ws !== ws) continue;
        this.settle(id)?.reject(new Error(`fake Slack: connection closed before the ack of ${p.envelope.type} ${id}`));
      }
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.open.length,
        debug_info: { host: 'applink-fake-1', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    const { envelope_id: id, payload } = message as { envelope_id?: unknown; payload?: unknown };
    if (typeof id !== 'string') return;
    const pending = this.settle(id);
    if (!pending) return;
    const ack = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
    pending.envelope.ack = ack;
    pending.envelope.ackedAt = this.now();
    pending.resolve(ack);
  }

  private settle(id: string): Pending | undefined {
    const pending = this.pending.get(id);
    if (!pending) return undefined;
    clearTimeout(pending.timer);
    this.pending.delete(id);
    return pending;
  }

  connected(): boolean {
    return this.open.length > 0;
  }

  connections(): number {
    return this.total;
  }

  async waitForConnection({ timeoutMs = 3000, total = 1 }: { timeoutMs?: number; total?: number } = {}) {
    const deadline = Date.now() + timeoutMs;
    while (!(this.connected() && this.total >= total)) {
      if (Date.now() > deadline) {
        throw new Error(
          `fake Slack: no Socket Mode connection #${total} within ${timeoutMs} ms (accepted ${this.total}, open ${this.open.length})`,
        );
      }
      await delay(5);
    }
  }

  send(type: EnvelopeType, payload: object, options: SendOptions = {}): Promise<Record<string, unknown>> {
    const ws = this.open.at(-1);
    if (!ws) return Promise.reject(new Error(`fake Slack: cannot send ${type}, no Socket Mode connection is open`));
    const envelopeId = options.envelopeId ?? randomUUID();
    const envelope: SocketEnvelope = { envelopeId, type, payload, sentAt: this.now() };
    const wire: Record<string, unknown> = {
      envelope_id: envelopeId,
      payload,
      type,
      accepts_response_payload: options.acceptsResponsePayload ?? type !== 'events_api',
    };
    if (type === 'events_api' || options.retryAttempt !== undefined) {
      wire['retry_attempt'] = options.retryAttempt ?? 0;
      wire['retry_reason'] = options.retryReason ?? '';
    }
    this.log.push(envelope);
    const timeoutMs = options.timeoutMs ?? 3000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(envelopeId);
        reject(new Error(`fake Slack: no ack for ${type} envelope ${envelopeId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(envelopeId, { envelope, ws, resolve, reject, timer });
      ws.send(JSON.stringify(wire));
    });
  }

  disconnect(reason: 'warning' | 'refresh_requested' | 'link_disabled' | 'too_many_websockets'): void {
    for (const ws of this.open) ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake' } }));
  }

  terminate(): void {
    for (const ws of [...this.open]) ws.terminate();
  }

  envelopes(): SocketEnvelope[] {
    return structuredClone(this.log);
  }

  /** Closes open connections with a close handshake (so a stopping client logs no error), then terminates. */
  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new Error('fake Slack: closed'));
    const closing = this.open.map((ws) => new Promise((resolve) => ws.once('close', resolve)));
    for (const ws of this.open) ws.close(1001, 'fake Slack closing');
    const timer = setTimeout(() => this.terminate(), 500);
    await Promise.all(closing);
    clearTimeout(timer);
    this.wss.close();
  }
}
