import PQueue from 'p-queue';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';

/**
 * Who is waiting for a request decides its lane:
 * - `interactive`: a person in Slack is waiting (an ack, a modal suggestion). Highest priority, a deadline, and a
 *   concurrency slot no bulk work may take, so it never queues behind sends.
 * - `send`: delivering messages.
 * - `background`: status re-reads and housekeeping. Uses what sends leave over, but a task that has waited
 *   `agingMs` moves ahead of sends so status never starves under a long burst.
 */
export type Lane = 'interactive' | 'send' | 'background';

const PRIORITY: Record<Lane, number> = { interactive: 30, send: 20, background: 10 };
const AGED_PRIORITY = 25;

export interface RequestBudgetOptions {
  /** Global requests per minute towards Chatwoot (shared by every lane). */
  readonly requestsPerMinute: number;
  /** Requests in flight at most. With 2 or more, one slot is kept for the interactive lane. */
  readonly concurrency: number;
  /** Chatwoot throttles contact search at 100/min per account (dashboard users included); we keep under it. */
  readonly contactSearchPerMinute?: number;
  readonly agingMs?: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface RunOptions {
  /** Aborting removes a waiting task (the interactive deadline) and is passed on to the request. */
  readonly signal?: AbortSignal | undefined;
  /** Also counts against the contact-search limit. */
  readonly contactSearch?: boolean;
}

export interface BudgetStats {
  readonly waiting: Readonly<Record<Lane, number>>;
  readonly inFlight: number;
  readonly pausedUntil: number | undefined;
  readonly started: number;
}

export interface RequestBudget {
  /** Runs one HTTP attempt once the budget, the lane and the concurrency allow it. */
  run<T>(lane: Lane, attempt: (signal: AbortSignal | undefined) => Promise<T>, options?: RunOptions): Promise<T>;
  /** Starts nothing until `until` (ms since epoch): after a 429 every request would be refused and still counted. */
  pauseUntil(until: number): void;
  stats(): BudgetStats;
  /** Resolves when nothing waits or runs. */
  onIdle(): Promise<void>;
  /** Rejects everything still waiting; for shutdown. */
  clear(): void;
}

/**
 * The single gate every Chatwoot request passes. Requests start evenly (at most `requestsPerMinute` in any 60 s,
 * as a sliding window over roughly one second), so the fixed one-minute window Chatwoot counts in never sees more
 * than the budget, and an interactive request waits at most about a second for its turn.
 */
export function createRequestBudget(options: RequestBudgetOptions): RequestBudget {
  const { clock, logger } = options;
  const perMinute = options.requestsPerMinute;
  const intervalCap = Math.max(1, Math.floor(perMinute / 60));
  const interval = Math.ceil((intervalCap * 60_000) / perMinute);
  const global = new PQueue({ concurrency: options.concurrency, interval, intervalCap, strict: true });
  const bulk = new PQueue({ concurrency: Math.max(1, options.concurrency - 1) });
  const searchPerMinute = options.contactSearchPerMinute ?? 60;
  const search = new PQueue({ interval: 60_000, intervalCap: searchPerMinute, strict: true });
  const agingMs = options.agingMs ?? 30_000;

  const waiting: Record<Lane, number> = { interactive: 0, send: 0, background: 0 };
  let inFlight = 0;
  let started = 0;
  let pausedUntil: number | undefined;
  let resume: AbortController | undefined;
  let nextId = 0;

  const run = <T>(
    lane: Lane,
    attempt: (signal: AbortSignal | undefined) => Promise<T>,
    runOptions: RunOptions = {},
  ): Promise<T> => {
    const signal = runOptions.signal;
    waiting[lane] += 1;
    let begun = false;
    const begin = async (): Promise<T> => {
      begun = true;
      waiting[lane] -= 1;
      inFlight += 1;
      started += 1;
      try {
        return await attempt(signal);
      } finally {
        inFlight -= 1;
      }
    };
    const toGlobal = (priority: number): Promise<T> => global.add(begin, { priority, signal });
    const gated = (): Promise<T> =>
      lane === 'interactive' ? toGlobal(PRIORITY.interactive) : throughBulk(lane, toGlobal, signal);
    const task = runOptions.contactSearch === true ? search.add(gated, { signal }) : gated();
    return task.finally(() => {
      if (!begun) waiting[lane] -= 1;
    });
  };

  /** Bulk work holds one of `concurrency - 1` slots while it waits for and makes its request. */
  const throughBulk = <T>(
    lane: Exclude<Lane, 'interactive'>,
    toGlobal: (priority: number) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> => {
    const id = `${lane}-${nextId++}`;
    let priority = PRIORITY[lane];
    const aging =
      lane === 'background'
        ? setTimeout(() => {
            priority = AGED_PRIORITY;
            try {
              bulk.setPriority(id, AGED_PRIORITY);
            } catch {
              // Already started: nothing to bump.
            }
          }, agingMs)
        : undefined;
    aging?.unref();
    return bulk.add(
      () => {
        clearTimeout(aging);
        return toGlobal(priority);
      },
      { priority, id, signal },
    );
  };

  const pauseUntil = (until: number): void => {
    if (pausedUntil !== undefined && pausedUntil >= until) return;
    pausedUntil = until;
    global.pause();
    resume?.abort();
    const controller = new AbortController();
    resume = controller;
    logger.warn({ resumeAt: new Date(until).toISOString() }, 'chatwoot rate limit reached; pausing all requests');
    clock.sleep(Math.max(0, until - clock.now()), controller.signal).then(
      () => {
        if (resume !== controller) return;
        pausedUntil = undefined;
        resume = undefined;
        global.start();
        logger.info('chatwoot requests resumed');
      },
      () => {
        // Superseded by a later pause.
      },
    );
  };

  return {
    run,
    pauseUntil,
    stats: () => ({ waiting: { ...waiting }, inFlight, pausedUntil, started }),
    onIdle: async () => {
      await Promise.all([search.onIdle(), bulk.onIdle(), global.onIdle()]);
    },
    clear: () => {
      search.clear();
      bulk.clear();
      global.clear();
      resume?.abort();
      global.start();
    },
  };
}
