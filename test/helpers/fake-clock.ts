import type { Clock } from '../../src/shared/clock.ts';

export interface FakeClock extends Clock {
  /** Every wait asked for, in order (ms). */
  readonly sleeps: number[];
  advance(ms: number): void;
  set(now: number): void;
}

/**
 * A clock whose time only moves when told. With `autoAdvance`, every sleep moves time forward and resolves at
 * once, so code that waits (retries, 429 windows) runs instantly while tests can assert the waits it chose.
 */
export function createFakeClock(options: { start?: number; autoAdvance?: boolean } = {}): FakeClock {
  let now = options.start ?? Date.UTC(2026, 10, 26, 12, 0, 10);
  const sleeps: number[] = [];
  const waiting: Array<{ at: number; resolve: () => void; reject: (reason: unknown) => void; signal?: AbortSignal }> =
    [];

  const release = () => {
    for (const entry of [...waiting]) {
      if (entry.at <= now) {
        waiting.splice(waiting.indexOf(entry), 1);
        entry.resolve();
      }
    }
  };

  return {
    sleeps,
    now: () => now,
    sleep: (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted === true) return Promise.reject(signal.reason);
      if (options.autoAdvance === true) {
        now += Math.max(0, ms);
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const entry = { at: now + Math.max(0, ms), resolve, reject, ...(signal === undefined ? {} : { signal }) };
        waiting.push(entry);
        signal?.addEventListener('abort', () => {
          const index = waiting.indexOf(entry);
          if (index >= 0) waiting.splice(index, 1);
          reject(signal.reason);
        });
        release();
      });
    },
    advance: (ms) => {
      now += ms;
      release();
    },
    set: (value) => {
      now = value;
      release();
    },
  };
}
