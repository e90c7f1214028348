import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { type SlackCall, SlackCallError, type SlackMethod, toSlackCallError } from './slack-call.ts';

export interface SlackMessage {
  readonly text: string;
  readonly blocks?: readonly unknown[];
  /** Anything else chat.postMessage / chat.update accept: thread_ts, unfurl_links, … */
  readonly [extra: string]: unknown;
}

export interface SlackPosterOptions {
  readonly call: SlackCall;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Minimum spacing of posts into one channel (default 1100 ms), with a burst allowance (default 1). */
  readonly postIntervalMs?: number;
  readonly postBurst?: number;
  /** chat.update across the workspace (default 50/min: spacing 1200 ms, burst 5). */
  readonly updateIntervalMs?: number;
  readonly updateBurst?: number;
  /** Transient failures (5xx, network) retry with backoff (1 s doubling to 60 s) for this long (default 15 min). */
  readonly giveUpAfterMs?: number;
  readonly random?: () => number;
}

export interface SlackPosterStats {
  /** Calls waiting (merged updates count once). */
  readonly queued: number;
  readonly inFlight: number;
  /** 429s seen since start. */
  readonly rateLimited: number;
  /** Lanes alive: one per channel with recent posts, plus the update lane. Falls to 0 when idle. */
  readonly lanes: number;
}

export interface SlackPoster {
  /**
   * Posts into a channel (or a thread, with `thread_ts` in the message). `render` runs when the post is made, so
   * it carries the latest state. Resolves with the posted message's channel and ts. Platform errors reject at once
   * with SlackCallError; rate limits and transient errors are waited out. Higher `priority` goes first.
   */
  post(
    channel: string,
    render: () => SlackMessage,
    options?: { priority?: number },
  ): Promise<{ channel: string; ts: string }>;
  /**
   * Edits a message. Updates of one message still queued merge: the latest `render` runs once, when the edit is
   * made. Resolves when an edit made after this call has been applied.
   */
  update(channel: string, ts: string, render: () => SlackMessage): Promise<void>;
  /** Ephemeral message to a user in a channel; a person is waiting for it, so it goes ahead of queued posts. */
  ephemeral(channel: string, user: string, render: () => SlackMessage): Promise<void>;
  /** Waits until nothing is queued or in flight, or the timeout passes. */
  drain(timeoutMs?: number): Promise<void>;
  /** Stops: queued work is rejected with SlackCallError('shutting_down'). */
  close(): void;
  stats(): SlackPosterStats;
}

/** A person is waiting for an ephemeral (usually an error about what they just did); it skips queued posts. */
const EPHEMERAL_PRIORITY = 1_000_000;
const DEFAULT_RETRY_AFTER_MS = 1_000;
const RATE_LIMIT_JITTER_MS = 250;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

type Body = Record<string, unknown>;

/** One Web API call to make; updates of one message share a job while it waits (`key`). */
interface Job {
  readonly method: SlackMethod;
  readonly channel: string;
  /** Fields the poster owns (channel, ts, user); they win over the rendered message. */
  readonly target: Readonly<Record<string, string>>;
  readonly key: string | undefined;
  readonly priority: number;
  readonly seq: number;
  render: () => SlackMessage;
  readonly waiters: Array<{ resolve: (body: Body) => void; reject: (error: unknown) => void }>;
  attempts: number;
  failingSince?: number;
}

/**
 * A sequential queue with its own token bucket: one per channel for posts and ephemerals (Slack's ~1/s per
 * channel), and one for every update (Tier 3, ~50/min per workspace). One call in flight per lane keeps a channel's
 * posts in order and an update of a message after the previous one.
 */
interface Lane {
  readonly name: string;
  readonly intervalMs: number;
  readonly burst: number;
  readonly queue: Job[];
  tokens: number;
  at: number;
  /** Set by a 429 or a transient failure: nothing starts in this lane before. */
  notBefore: number;
  /** The lane's current wait; aborted to wake it (new work in an idle lane, close). */
  nap?: AbortController | undefined;
}

/**
 * The one place every Slack write goes through, so that posting results never blocks or loses a send and a burst
 * of sends stays under Slack's limits instead of collecting 429s. Each lane is driven by a loop that waits on
 * `clock.sleep` (a fake clock drives tests) and is released, timers included, once it is idle and its bucket has
 * refilled: keeping it until then means a new post cannot burst past the limit, and dropping it then means
 * thousands of channels leave nothing behind.
 */
export function createSlackPoster(options: SlackPosterOptions): SlackPoster {
  const { call, clock, logger } = options;
  const random = options.random ?? Math.random;
  const giveUpAfterMs = options.giveUpAfterMs ?? 15 * 60_000;
  const postLimit = { intervalMs: options.postIntervalMs ?? 1100, burst: Math.max(1, options.postBurst ?? 1) };
  const updateLimit = { intervalMs: options.updateIntervalMs ?? 1200, burst: Math.max(1, options.updateBurst ?? 5) };
  const lanes = new Map<string, Lane>();
  /** Update jobs not yet started, by message: a new update of the same message joins the waiting one. */
  const waitingUpdates = new Map<string, Job>();
  const drainWaiters = new Set<() => void>();
  let seq = 0;
  let queued = 0;
  let inFlight = 0;
  let rateLimited = 0;
  let closed = false;

  const shuttingDown = (): SlackCallError => new SlackCallError('shutting_down', { transient: false });

  const level = (lane: Lane, now: number): number =>
    lane.intervalMs <= 0 ? lane.burst : Math.min(lane.burst, lane.tokens + (now - lane.at) / lane.intervalMs);

  const insert = (lane: Lane, job: Job): void => {
    // Higher priority first, then first come first served (a retried job goes back to its place, not the end).
    const index = lane.queue.findIndex(
      (other) => other.priority < job.priority || (other.priority === job.priority && other.seq > job.seq),
    );
    lane.queue.splice(index === -1 ? lane.queue.length : index, 0, job);
    queued += 1;
    if (job.key !== undefined) waitingUpdates.set(job.key, job);
  };

  const settle = (job: Job, outcome: { body: Body } | { error: unknown }): void => {
    for (const waiter of job.waiters) {
      if ('body' in outcome) waiter.resolve(outcome.body);
      else waiter.reject(outcome.error);
    }
    if (queued === 0 && inFlight === 0) for (const resolve of drainWaiters) resolve();
  };

  const nap = async (lane: Lane, ms: number): Promise<void> => {
    const controller = new AbortController();
    lane.nap = controller;
    await clock.sleep(ms, controller.signal).catch(() => undefined);
    lane.nap = undefined;
  };

  /** Drives one lane until it is idle with a full bucket (then releases it) or the poster closes. */
  const pump = async (lane: Lane): Promise<void> => {
    while (!closed) {
      const now = clock.now();
      const job = lane.queue[0];
      const due =
        job === undefined
          ? Math.max(lane.notBefore, lane.at + (lane.burst - lane.tokens) * lane.intervalMs)
          : Math.max(lane.notBefore, now + Math.max(0, Math.ceil((1 - level(lane, now)) * lane.intervalMs)));
      if (due > now) {
        await nap(lane, due - now);
        continue;
      }
      if (job === undefined) break;
      lane.queue.shift();
      queued -= 1;
      if (job.key !== undefined && waitingUpdates.get(job.key) === job) waitingUpdates.delete(job.key);
      await attempt(lane, job, now);
    }
    if (lanes.get(lane.name) === lane) lanes.delete(lane.name);
  };

  const attempt = async (lane: Lane, job: Job, now: number): Promise<void> => {
    let args: Body;
    try {
      args = { ...job.render(), ...job.target };
    } catch (error) {
      settle(job, { error });
      return;
    }
    lane.tokens = level(lane, now) - 1;
    lane.at = now;
    inFlight += 1;
    try {
      const body = await call(job.method, args);
      inFlight -= 1;
      settle(job, { body });
    } catch (error) {
      inFlight -= 1;
      retryOrFail(lane, job, toSlackCallError(error));
    }
  };

  /**
   * 429s are waited out without limit: the whole lane pauses, as every call in it would be refused. Transient errors
   * back off until `giveUpAfterMs`; the lane pauses too (a 5xx or a network failure is rarely about one message).
   * Either way the job goes back to its place at the head, so a channel's posts stay in order. A post retried after
   * a 5xx or a timeout may show twice if Slack had in fact taken it: better than a status thread missing a message.
   */
  const retryOrFail = (lane: Lane, job: Job, failure: SlackCallError): void => {
    const now = clock.now();
    const context = { method: job.method, channel: job.channel, code: failure.code };
    let waitMs: number;
    if (closed) {
      settle(job, { error: failure.transient ? shuttingDown() : failure });
      return;
    }
    if (failure.code === 'ratelimited') {
      rateLimited += 1;
      waitMs = (failure.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS) + Math.round(random() * RATE_LIMIT_JITTER_MS);
      logger.warn({ ...context, retryAfterMs: waitMs }, 'slack rate limit reached; pausing lane');
    } else if (failure.transient && now - (job.failingSince ?? now) < giveUpAfterMs) {
      job.failingSince ??= now;
      job.attempts += 1;
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (job.attempts - 1)) * (0.5 + random() / 2);
      // The last wait ends at the give-up time, so the final attempt is made then rather than skipped.
      waitMs = Math.max(0, Math.min(Math.round(backoff), job.failingSince + giveUpAfterMs - now));
      logger.warn({ ...context, attempt: job.attempts, retryAfterMs: waitMs }, 'slack call failed; retrying');
    } else {
      logger.debug(context, 'slack call failed');
      settle(job, { error: failure });
      return;
    }
    lane.notBefore = Math.max(lane.notBefore, now + waitMs);
    const newer = job.key === undefined ? undefined : waitingUpdates.get(job.key);
    // An update of the same message queued meanwhile renders later state: it answers this one's waiters too.
    if (newer === undefined) insert(lane, job);
    else newer.waiters.unshift(...job.waiters);
  };

  const submit = (
    laneName: string,
    fields: Pick<Job, 'method' | 'channel' | 'target' | 'priority' | 'render'> & { key?: string },
  ): Promise<Body> => {
    if (closed) return Promise.reject(shuttingDown());
    return new Promise<Body>((resolve, reject) => {
      const waiting = fields.key === undefined ? undefined : waitingUpdates.get(fields.key);
      if (waiting !== undefined) {
        waiting.render = fields.render;
        waiting.waiters.push({ resolve, reject });
        return;
      }
      const job: Job = { ...fields, key: fields.key, seq: seq++, waiters: [{ resolve, reject }], attempts: 0 };
      const existing = lanes.get(laneName);
      if (existing !== undefined) {
        // The lane's loop is alive; if it is idle it is only waiting for its bucket to refill: wake it.
        if (existing.queue.length === 0) existing.nap?.abort();
        insert(existing, job);
        return;
      }
      const limit = fields.method === 'chat.update' ? updateLimit : postLimit;
      const lane: Lane = { name: laneName, ...limit, queue: [], tokens: limit.burst, at: clock.now(), notBefore: 0 };
      lanes.set(laneName, lane);
      insert(lane, job);
      // Started on a microtask so `render` never runs inside the caller's post()/update().
      queueMicrotask(() => {
        pump(lane).catch((error: unknown) => logger.error({ err: error, lane: laneName }, 'slack lane stopped'));
      });
    });
  };

  return {
    post: async (channel, render, postOptions) => {
      const body = await submit(`post:${channel}`, {
        method: 'chat.postMessage',
        channel,
        target: { channel },
        priority: postOptions?.priority ?? 0,
        render,
      });
      const ts = body['ts'];
      const posted = body['channel'];
      if (typeof ts !== 'string') throw new SlackCallError('invalid_response', { transient: false });
      return { channel: typeof posted === 'string' ? posted : channel, ts };
    },
    update: async (channel, ts, render) => {
      const key = `${channel}\n${ts}`;
      await submit('update', { method: 'chat.update', channel, target: { channel, ts }, priority: 0, render, key });
    },
    ephemeral: async (channel, user, render) => {
      const target = { channel, user };
      await submit(`post:${channel}`, {
        method: 'chat.postEphemeral',
        channel,
        target,
        priority: EPHEMERAL_PRIORITY,
        render,
      });
    },
    drain: async (timeoutMs) => {
      if (queued === 0 && inFlight === 0) return;
      const timeout = new AbortController();
      let done = (): void => undefined;
      const drained = new Promise<void>((resolve) => {
        done = resolve;
        drainWaiters.add(resolve);
      });
      const waits = [drained];
      if (timeoutMs !== undefined) waits.push(clock.sleep(timeoutMs, timeout.signal).catch(() => undefined));
      await Promise.race(waits);
      timeout.abort();
      drainWaiters.delete(done);
    },
    close: () => {
      if (closed) return;
      closed = true;
      for (const lane of lanes.values()) {
        for (const job of lane.queue.splice(0)) {
          queued -= 1;
          settle(job, { error: shuttingDown() });
        }
        lane.nap?.abort();
      }
      lanes.clear();
      waitingUpdates.clear();
      if (inFlight === 0) for (const resolve of drainWaiters) resolve();
    },
    stats: () => ({ queued, inFlight, rateLimited, lanes: lanes.size }),
  };
}
