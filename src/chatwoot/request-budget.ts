import PQueue from 'p-queue';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';

/**
 * Who is waiting for a request decides its lane:
 * - `interactive`: a person in Slack is waiting (an ack, a modal suggestion). Highest priority, a deadline, and a
 *   concurrency slot no bulk work may take, so it never queues behind sends.
 * - `send`: delivering messages.
 * - `background`: status re-reads and housekeeping. Runs when sends have been quiet for a moment, and a task that
 *   has waited `agingMs` goes ahead of sends so status never starves during a long burst.
 */
export type Lane = 'interactive' | 'send' | 'background';

const PRIORITY: Record<Lane, number> = { interactive: 30, send: 20, background: 10 };
const AGED_PRIORITY = 25;
/** A send finished this recently still counts as a busy send lane (the next one is usually on its way). */
const QUIET_MS = 250;

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
  /** Send requests waiting or in flight, and when the last one finished: the send lane is busy while either is recent. */
  let sendsPending = 0;
  let lastSendActivity = Number.NEGATIVE_INFINITY;
  const held: Array<{ since: number; release: (priority: number) => void; reject: (reason: unknown) => void }> = [];
  let gate: NodeJS.Timeout | undefined;

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
    if (lane === 'send') sendsPending += 1;
    const task = runOptions.contactSearch === true ? search.add(gated, { signal }) : gated();
    return task.finally(() => {
      if (!begun) waiting[lane] -= 1;
      if (lane === 'send') {
        sendsPending -= 1;
        lastSendActivity = clock.now();
        if (sendsPending === 0 && held.length > 0) checkHeld();
      }
    });
  };

  /** Bulk work holds one of `concurrency - 1` slots while it waits for and makes its request. */
  const throughBulk = <T>(
    lane: Exclude<Lane, 'interactive'>,
    toGlobal: (priority: number) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> => {
    if (lane === 'send') return bulk.add(() => toGlobal(PRIORITY.send), { priority: PRIORITY.send, signal });
    return whenQuiet(signal).then((priority) => bulk.add(() => toGlobal(priority), { priority, signal }));
  };

  /**
   * Background work waits until sends have been quiet for a moment (not merely until none is queued this instant:
   * between two sends of one conversation there is a short gap it would otherwise take), or until it has waited
   * `agingMs`, when it goes ahead of sends so status never starves during a long burst.
   */
  const whenQuiet = (signal: AbortSignal | undefined): Promise<number> =>
    new Promise<number>((release, reject) => {
      const entry = { since: clock.now(), release, reject };
      held.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          const index = held.indexOf(entry);
          if (index === -1) return;
          held.splice(index, 1);
          reject(signal.reason);
        },
        { once: true },
      );
      checkHeld();
    });

  const checkHeld = (): void => {
    if (gate !== undefined) clearTimeout(gate);
    gate = undefined;
    const now = clock.now();
    const quiet = sendsPending === 0 && now - lastSendActivity >= QUIET_MS;
    for (const entry of [...held]) {
      const aged = now - entry.since >= agingMs;
      if (!quiet && !aged) continue;
      held.splice(held.indexOf(entry), 1);
      entry.release(aged ? AGED_PRIORITY : PRIORITY.background);
    }
    if (held.length > 0) {
      gate = setTimeout(checkHeld, QUIET_MS / 2);
      gate.unref();
    }
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
      for (const entry of held.splice(0))
        entry.reject(new DOMException('The request budget was cleared.', 'AbortError'));
      search.clear();
      bulk.clear();
      global.clear();
      resume?.abort();
      global.start();
    },
  };
}
