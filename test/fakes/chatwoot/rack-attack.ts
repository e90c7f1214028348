const WINDOW_MS = 60_000;
const CONTACT_SEARCH_PATH = /\/api\/v1\/accounts\/(\d+)\/contacts\/search/;

/**
 * Rack::Attack 6.7 throttles as Chatwoot configures them: fixed windows of `floor(now / period)`, every request
 * counted (throttled ones too), throttles checked in order and the first exceeded one answers.
 */
export class RackAttack {
  globalLimit: number | false;
  contactSearchLimit: number | false;
  private readonly now: () => number;
  private readonly counts = new Map<string, number>();
  private window = Number.NaN;

  constructor(now: () => number, globalLimit: number | false, contactSearchLimit: number | false) {
    this.now = now;
    this.globalLimit = globalLimit;
    this.contactSearchLimit = contactSearchLimit;
  }

  /** Counts the request and says whether it is throttled. `ip` is Rack's `req.ip`. */
  throttled(path: string, ip: string): boolean {
    if (path === '/health') return false;
    const window = Math.floor(this.now() / WINDOW_MS);
    if (window !== this.window) {
      this.counts.clear();
      this.window = window;
    }
    if (this.globalLimit !== false && this.count(`req/ip:${ip}`) > this.globalLimit) return true;
    const accountId = CONTACT_SEARCH_PATH.exec(path)?.[1];
    if (this.contactSearchLimit !== false && accountId !== undefined) {
      return this.count(`contacts/search:${accountId}`) > this.contactSearchLimit;
    }
    return false;
  }

  private count(key: string): number {
    const next = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, next);
    return next;
  }
}

/** Rack::Request#ip behind a trusted (loopback/private) proxy: the last untrusted X-Forwarded-For entry. */
export function clientIp(remoteAddress: string | undefined, forwardedFor: string | undefined): string {
  const remote = (remoteAddress ?? '').replace(/^::ffff:/, '');
  if (!forwardedFor || !isTrusted(remote)) return remote;
  const chain = forwardedFor
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  return chain.filter((entry) => !isTrusted(entry)).at(-1) ?? chain[0] ?? remote;
}

function isTrusted(ip: string): boolean {
  return /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|::1$|f[cd][0-9a-f]{2}:|localhost$|unix)/i.test(ip);
}
