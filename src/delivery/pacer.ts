import type { Clock } from '../shared/clock.ts';

/**
 * Paces messages per recipient: WhatsApp accepts about one message every 6 s to the same person, with short
 * bursts, and answers faster senders with error 131056. A token bucket per recipient: `burst` messages may go
 * back to back, then one per `intervalMs`.
 */
export interface Pacer {
  /** When the next message to `recipient` may leave (now or later). */
  nextAt(recipient: string): number;
  /** Record that a message to `recipient` is leaving now. */
  take(recipient: string): void;
}

export function createPacer(options: { intervalMs: number; burst: number; clock: Clock }): Pacer {
  const { intervalMs, burst, clock } = options;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const level = (recipient: string, now: number): number => {
    const bucket = buckets.get(recipient);
    if (bucket === undefined || intervalMs === 0) return burst;
    return Math.min(burst, bucket.tokens + (now - bucket.at) / intervalMs);
  };

  return {
    nextAt: (recipient) => {
      const now = clock.now();
      const tokens = level(recipient, now);
      return tokens >= 1 ? now : now + Math.ceil((1 - tokens) * intervalMs);
    },
    take: (recipient) => {
      if (intervalMs === 0) return;
      const now = clock.now();
      const tokens = level(recipient, now) - 1;
      buckets.set(recipient, { tokens, at: now });
      // Full buckets carry no information; dropping them keeps memory bounded by recent recipients.
      if (buckets.size > 10_000) {
        for (const [key, bucket] of buckets) {
          if (bucket.tokens + (now - bucket.at) / intervalMs >= burst) buckets.delete(key);
        }
      }
    },
  };
}
