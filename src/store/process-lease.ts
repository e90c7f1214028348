import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Keyv } from 'keyv';
import { type Clock, systemClock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { Store } from './types.ts';

/*
 * Until several replicas are supported, one process at a time may use a store: two bridges on one send queue
 * would send every message twice.
 *
 * The lease is one record `process-lease:holder` written with a TTL and renewed in the background, so it dies
 * with its process within `ttlMs`.
 *
 * LIMITATION: Keyv has no compare-and-set, so taking the lease is "read, write, wait, read back". Two processes
 * that start within the settle delay of each other are told apart by the read-back (the later write wins, the
 * other one gets LeaseHeldError). If one of them is slower than the settle delay between its read and its
 * write, both may briefly believe they hold the lease; the loser notices at its next renewal (at most
 * `renewEveryMs` later), which reads the record before writing it, and its onLost listeners fire.
 *
 * Timing (defaults ttlMs 15 s, renewEveryMs 5 s):
 * - renewal every `renewEveryMs` (unref'd timer, so it never keeps the process alive);
 * - a failed renewal (store error) is logged and retried every min(renewEveryMs, ttlMs/10); it only becomes
 *   fatal when no renewal has been confirmed for a whole `ttlMs` — by then the record may have expired and
 *   another process may legitimately have taken the store, so onLost(undefined) fires and renewal stops;
 * - a starter that finds a live-looking record watches it for up to ttlMs + ttlMs/10: a change (renewal or new
 *   holder) proves a live holder → LeaseHeldError (usually after about one renewal interval); a record that
 *   disappears or is not renewed in that window is taken over.
 * All durations and timestamps come from the injected clock; only the scheduling of renewals uses real
 * (unref'd) timers. The record's store TTL is wall-clock time (Keyv/Redis).
 */

export const LEASE_NAMESPACE = 'process-lease';
export const LEASE_KEY = 'holder';
export const DEFAULT_LEASE_TTL_MS = 15_000;
export const DEFAULT_LEASE_RENEW_EVERY_MS = 5_000;

export interface LeaseHolder {
  token: string;
  host: string;
  pid: number;
  startedAt: number;
  renewedAt: number;
}

export interface ProcessLease {
  /** The record as last written by this process. */
  readonly holder: LeaseHolder;
  /** Called if another process takes the lease (e.g. after this one stalled): the caller must stop sending at once. */
  onLost(listener: (by: LeaseHolder | undefined) => void): void;
  /** Stops renewing and deletes the record if it is still ours. Never rejects (the record expires anyway). */
  release(): Promise<void>;
}

export class LeaseHeldError extends Error {
  readonly code = 'store_in_use';
  override readonly name = 'LeaseHeldError';
  readonly holder: LeaseHolder;

  constructor(message: string, holder: LeaseHolder) {
    super(message);
    this.holder = holder;
  }
}

export interface ProcessLeaseOptions {
  logger: Logger;
  clock?: Clock;
  /** Default 15000. */
  ttlMs?: number;
  /** Default 5000; at most half of ttlMs. */
  renewEveryMs?: number;
  /** Default os.hostname(). */
  host?: string;
  /** Default process.pid. */
  pid?: number;
  /** Default: signal 0 (a pid we may not signal counts as alive). */
  isProcessAlive?: (pid: number) => boolean;
}

interface LeaseTiming {
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly retryMs: number;
  readonly settleMs: number;
  readonly pollMs: number;
  readonly watchMs: number;
}

interface LeaseContext {
  readonly store: Store;
  readonly keyv: Keyv<unknown>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly timing: LeaseTiming;
}

/** Takes the store for this process, or throws LeaseHeldError when another live process holds it. */
export async function acquireProcessLease(store: Store, options: ProcessLeaseOptions): Promise<ProcessLease> {
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const renewEveryMs = options.renewEveryMs ?? DEFAULT_LEASE_RENEW_EVERY_MS;
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`Invalid lease ttlMs ${ttlMs}: use a positive whole number of milliseconds.`);
  }
  if (!Number.isInteger(renewEveryMs) || renewEveryMs <= 0 || renewEveryMs * 2 > ttlMs) {
    throw new TypeError(
      `Invalid lease renewEveryMs ${renewEveryMs}: use a positive whole number of milliseconds, at most half of ttlMs (${ttlMs}), so one failed renewal does not lose the lease.`,
    );
  }
  const timing: LeaseTiming = {
    ttlMs,
    renewEveryMs,
    retryMs: Math.max(1, Math.min(renewEveryMs, Math.round(ttlMs / 10))),
    settleMs: Math.max(1, Math.min(500, Math.round(ttlMs / 20))),
    pollMs: Math.max(1, Math.min(1_000, Math.round(renewEveryMs / 2))),
    watchMs: ttlMs + Math.round(ttlMs / 10),
  };
  const context: LeaseContext = {
    store,
    keyv: store.namespace<unknown>(LEASE_NAMESPACE),
    logger: options.logger,
    clock: options.clock ?? systemClock,
    timing,
  };
  const host = options.host ?? hostname();
  const pid = options.pid ?? process.pid;
  const isAlive = options.isProcessAlive ?? isProcessAlive;
  const { logger, clock } = context;

  let watched: { holder: LeaseHolder; since: number } | undefined;
  let vanished = 0;
  for (;;) {
    const current = parseHolder(await context.keyv.get(LEASE_KEY));
    let takeOver = current === undefined;
    if (current === 'invalid') {
      logger.warn({ store: store.description }, 'process lease record is unreadable; replacing it');
      takeOver = true;
    } else if (current !== undefined && current.host === host && (current.pid === pid || !isAlive(current.pid))) {
      // Same machine and the pid is ours (container restart: pid 1 again) or gone: a crashed predecessor.
      logger.warn(
        { store: store.description, previous: current },
        current.pid === pid
          ? 'process lease left by an earlier process of this host with our pid (restart); taking it over'
          : 'process lease left by a process of this host that is no longer running; taking it over',
      );
      takeOver = true;
    } else if (current !== undefined) {
      const now = clock.now();
      if (watched === undefined) {
        watched = { holder: current, since: now };
        logger.info(
          { store: store.description, holder: current, waitMs: timing.watchMs },
          'store is marked in use by another process; waiting to see whether it is still alive',
        );
      } else if (current.token !== watched.holder.token || current.renewedAt !== watched.holder.renewedAt) {
        throw leaseHeld(context, current);
      } else if (now - watched.since >= timing.watchMs) {
        logger.warn(
          { store: store.description, previous: current, silentForMs: now - watched.since },
          'process lease holder stopped renewing; taking the store over',
        );
        takeOver = true;
      }
    }
    if (takeOver) {
      const outcome = await claim(context, host, pid);
      if (outcome instanceof Lease) {
        return outcome;
      }
      if (outcome !== undefined) {
        throw leaseHeld(context, outcome);
      }
      // Our record vanished between write and read-back (deleted by someone else?): start over, a few times.
      vanished += 1;
      if (vanished >= 3) {
        throw new Error(`The process lease record in ${store.description} keeps disappearing; cannot take the store.`);
      }
      watched = undefined;
      continue;
    }
    await clock.sleep(timing.pollMs);
  }
}

/** Writes our record, waits for simultaneous starters, reads back: our lease, the winner's record, or undefined. */
async function claim(context: LeaseContext, host: string, pid: number): Promise<Lease | LeaseHolder | undefined> {
  const { keyv, clock, timing } = context;
  const writtenAt = clock.now();
  const record: LeaseHolder = { token: randomUUID(), host, pid, startedAt: writtenAt, renewedAt: writtenAt };
  await keyv.set(LEASE_KEY, record, timing.ttlMs);
  await clock.sleep(timing.settleMs);
  const back = parseHolder(await keyv.get(LEASE_KEY));
  if (back === undefined || back === 'invalid') {
    return undefined;
  }
  if (back.token !== record.token) {
    return back;
  }
  const lease = new Lease(context, record, writtenAt);
  context.logger.info({ store: context.store.description, host, pid }, 'process lease acquired');
  return lease;
}

class Lease implements ProcessLease {
  readonly #context: LeaseContext;
  #holder: LeaseHolder;
  /** Clock time at which the last successful write started: our record lives at least until this + ttl. */
  #confirmedAt: number;
  #timer: NodeJS.Timeout | undefined;
  #renewal: Promise<void> | undefined;
  #stopped = false;
  #lost: { by: LeaseHolder | undefined } | undefined;
  #released: Promise<void> | undefined;
  readonly #listeners: Array<(by: LeaseHolder | undefined) => void> = [];

  constructor(context: LeaseContext, holder: LeaseHolder, confirmedAt: number) {
    this.#context = context;
    this.#holder = holder;
    this.#confirmedAt = confirmedAt;
    this.#schedule(context.timing.renewEveryMs);
  }

  get holder(): LeaseHolder {
    return { ...this.#holder };
  }

  onLost(listener: (by: LeaseHolder | undefined) => void): void {
    const lost = this.#lost;
    if (lost === undefined) {
      this.#listeners.push(listener);
    } else {
      queueMicrotask(() => this.#notify(listener, lost.by));
    }
  }

  release(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  async #release(): Promise<void> {
    this.#stop();
    await this.#renewal;
    if (this.#lost !== undefined) {
      return;
    }
    const { keyv, logger, store, timing } = this.#context;
    try {
      const current = parseHolder(await keyv.get(LEASE_KEY));
      // Between this read and the delete only a process that saw our record stale could write; we were renewing.
      if (current !== undefined && current !== 'invalid' && current.token === this.#holder.token) {
        await keyv.delete(LEASE_KEY);
      }
      logger.info({ store: store.description }, 'process lease released');
    } catch (error) {
      logger.warn(
        { store: store.description, err: error, expiresWithinMs: timing.ttlMs },
        'could not delete the process lease record; it expires by itself',
      );
    }
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const renewal = this.#renew();
      this.#renewal = renewal;
      void renewal.finally(() => {
        if (this.#renewal === renewal) {
          this.#renewal = undefined;
        }
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    const { keyv, clock, logger, store, timing } = this.#context;
    if (this.#stopped) {
      return;
    }
    const startedAt = clock.now();
    try {
      const current = parseHolder(await keyv.get(LEASE_KEY));
      if (this.#stopped) {
        return;
      }
      if (current !== undefined && current !== 'invalid' && current.token !== this.#holder.token) {
        this.#lose(current);
        return;
      }
      if (current === undefined || current === 'invalid') {
        // Nobody re-took it (their record would be here): we stalled past the TTL, or the store lost it.
        logger.warn(
          { store: store.description, sinceConfirmedMs: startedAt - this.#confirmedAt },
          'process lease record had expired or was unreadable; writing it again',
        );
      }
      const next: LeaseHolder = { ...this.#holder, renewedAt: Math.max(startedAt, this.#holder.renewedAt + 1) };
      await keyv.set(LEASE_KEY, next, timing.ttlMs);
      if (this.#stopped) {
        return;
      }
      this.#holder = next;
      this.#confirmedAt = startedAt;
      this.#schedule(timing.renewEveryMs);
    } catch (error) {
      if (this.#stopped) {
        return;
      }
      const unconfirmedMs = clock.now() - this.#confirmedAt;
      if (unconfirmedMs >= timing.ttlMs) {
        logger.error(
          { store: store.description, err: error, unconfirmedMs },
          'could not renew the process lease for a whole TTL; another process may have taken the store — stopping',
        );
        this.#lose(undefined);
        return;
      }
      logger.warn(
        { store: store.description, err: error, unconfirmedMs, ttlMs: timing.ttlMs },
        'could not renew the process lease; retrying',
      );
      this.#schedule(Math.min(timing.retryMs, timing.ttlMs - unconfirmedMs));
    }
  }

  #stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #lose(by: LeaseHolder | undefined): void {
    this.#stop();
    this.#lost = { by };
    if (by !== undefined) {
      this.#context.logger.error(
        { store: this.#context.store.description, by },
        'process lease taken by another process — this process must stop sending',
      );
    }
    for (const listener of this.#listeners.splice(0)) {
      this.#notify(listener, by);
    }
  }

  #notify(listener: (by: LeaseHolder | undefined) => void, by: LeaseHolder | undefined): void {
    try {
      listener(by);
    } catch (error) {
      this.#context.logger.error({ err: error }, 'process lease onLost listener threw');
    }
  }
}

function leaseHeld(context: LeaseContext, holder: LeaseHolder): LeaseHeldError {
  const since = new Date(holder.startedAt).toISOString();
  const ttlSeconds = Math.ceil(context.timing.ttlMs / 1000);
  return new LeaseHeldError(
    `The store ${context.store.description} is in use by another bridge process (host "${holder.host}", pid ${holder.pid}, since ${since}). ` +
      'Running two bridges on one store would send every message twice. ' +
      'Stop the other process, or give this one a different STORE_URL. ' +
      `If the other process has crashed, its lease expires within ${ttlSeconds} s; start this one again after that.`,
    holder,
  );
}

function parseHolder(value: unknown): LeaseHolder | 'invalid' | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'object') {
    return 'invalid';
  }
  const token: unknown = Reflect.get(value, 'token');
  const host: unknown = Reflect.get(value, 'host');
  const pid: unknown = Reflect.get(value, 'pid');
  const startedAt: unknown = Reflect.get(value, 'startedAt');
  const renewedAt: unknown = Reflect.get(value, 'renewedAt');
  if (
    typeof token !== 'string' ||
    typeof host !== 'string' ||
    typeof pid !== 'number' ||
    typeof startedAt !== 'number' ||
    typeof renewedAt !== 'number'
  ) {
    return 'invalid';
  }
  return { token, host, pid, startedAt, renewedAt };
}

/** Whether a local process exists (signal 0). A process we may not signal (EPERM) exists. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}
