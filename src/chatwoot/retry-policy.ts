/** How often and how long a failing request is tried again. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** No new attempt starts later than this after the first. */
  readonly maxTotalMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  maxTotalMs: 90_000,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
};

/**
 * Exponential backoff with jitter for 5xx and network failures: after the n-th failure wait a random time in
 * [d/2, d] with d = min(max, base·2^(n-1)), so clients that failed together do not come back together.
 */
export function backoffDelay(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

const MINUTE = 60_000;
/** The Date header has one-second resolution; never come back inside the window that refused us. */
const DATE_RESOLUTION_MS = 1_000;
const WINDOW_JITTER_MS = 2_000;

/**
 * Chatwoot's 429 (Rack::Attack) counts requests per fixed minute of the *server's* clock and has no Retry-After;
 * requests sent while throttled still count. So wait until the server's next minute starts, plus jitter.
 * `serverTime` comes from the 429's Date header; without it, our own clock stands in.
 */
export function nextWindowDelay(
  serverTime: number | undefined,
  now: number,
  random: () => number = Math.random,
): number {
  const reference = serverTime ?? now;
  const nextWindow = (Math.floor(reference / MINUTE) + 1) * MINUTE;
  return nextWindow - reference + DATE_RESOLUTION_MS + Math.round(random() * WINDOW_JITTER_MS);
}
