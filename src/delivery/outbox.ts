import PQueue from 'p-queue';
import { backoffDelay } from '../chatwoot/retry-policy.ts';
import { type SendRecord, sendingDone } from './send-record.ts';
import { createSendSteps, DEFAULT_SEND_RETRY, type SendRetryPolicy, type SendStepsOptions } from './send-steps.ts';

export interface OutboxOptions extends SendStepsOptions {
  /** Sends in progress at once (each makes its requests through the shared budget). */
  readonly concurrency: number;
}

export interface OutboxStats {
  readonly lanes: number;
  readonly queued: number;
  readonly inProgress: number;
}

export interface Outbox {
  /** Schedules a stored record; records with the same conversation go out in `seq` order. */
  enqueue(record: SendRecord): void;
  /** Stops starting work at once (e.g. the store lease was lost); what runs finishes. */
  pause(): void;
  /** Lets running work finish (bounded), starts nothing new; state is already stored, so nothing is lost. */
  stop(timeoutMs: number): Promise<void>;
  stats(): OutboxStats;
  /** Resolves when nothing is queued or running. */
  onIdle(): Promise<void>;
}

interface Lane {
  readonly key: string;
  /** Record ids in acceptance order. */
  readonly entries: Array<{ id: string; seq: number }>;
  busy: boolean;
  notBefore: number;
  wake: AbortController | undefined;
  /** Steps in a row that threw (e.g. the store is unreachable); backs the lane off until one succeeds. */
  troubles: number;
}

/**
 * The durable queue's engine. Each conversation has a lane; a lane works on its oldest record only, one step at a
 * time (resolve, then each part: see send-steps.ts), so messages to one conversation leave in the order they were
 * accepted whatever the concurrency.
 */
export function createOutbox(options: OutboxOptions): Outbox {
  const { repository, clock, logger } = options;
  const steps = createSendSteps(options);
  const policy: SendRetryPolicy = { ...DEFAULT_SEND_RETRY, ...options.retry };
  const random = options.random ?? Math.random;
  const work = new PQueue({ concurrency: options.concurrency });
  const lanes = new Map<string, Lane>();
  let paused = false;
  let idleWaiters: Array<() => void> = [];

  const laneKeyOf = (record: SendRecord): string => {
    if (record.conversation !== undefined) return `conversation:${record.conversation.id}`;
    return record.reference.kind === 'phone'
      ? `phone:${record.reference.e164}`
      : `conversation:${record.reference.conversationId}`;
  };

  const insert = (record: SendRecord): void => {
    const key = laneKeyOf(record);
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = { key, entries: [], busy: false, notBefore: 0, wake: undefined, troubles: 0 };
      lanes.set(key, lane);
    }
    if (lane.entries.some((entry) => entry.id === record.id)) return;
    const at = lane.entries.findIndex((entry) => entry.seq > record.seq);
    // An earlier-accepted send that resolved late goes before later ones not yet started.
    const position = at === -1 ? lane.entries.length : Math.max(at, lane.busy ? 1 : 0);
    lane.entries.splice(position, 0, { id: record.id, seq: record.seq });
    if (record.waiting !== undefined) lane.notBefore = Math.max(lane.notBefore, record.waiting.until);
    schedule(lane);
  };

  const schedule = (lane: Lane): void => {
    if (paused || lane.busy) return;
    if (lane.entries.length === 0) {
      lanes.delete(lane.key);
      notifyIdle();
      return;
    }
    lane.wake?.abort();
    const wait = lane.notBefore - clock.now();
    if (wait > 0) {
      const wake = new AbortController();
      lane.wake = wake;
      clock.sleep(wait, wake.signal).then(
        () => {
          if (lane.wake === wake) lane.wake = undefined;
          schedule(lane);
        },
        () => undefined,
      );
      return;
    }
    lane.busy = true;
    work
      .add(() => step(lane))
      .then(
        () => {
          lane.troubles = 0;
        },
        (error: unknown) => {
          lane.troubles += 1;
          const delay = backoffDelay(lane.troubles, policy, random);
          logger.error({ err: error, lane: lane.key, retryInMs: delay }, 'outbox step failed unexpectedly');
          lane.notBefore = clock.now() + delay;
        },
      )
      .finally(() => {
        lane.busy = false;
        schedule(lane);
      });
  };

  const step = async (lane: Lane): Promise<void> => {
    const head = lane.entries[0];
    if (head === undefined) return;
    const record = await repository.get(head.id);
    if (record === undefined || sendingDone(record)) {
      lane.entries.shift();
      return;
    }
    const outcome = await steps.advance(record);
    if (outcome.kind === 'done') lane.entries.shift();
    else if (outcome.kind === 'moved') {
      lane.entries.shift();
      insert(outcome.record);
    } else if (outcome.kind === 'later') lane.notBefore = outcome.at;
  };

  const notifyIdle = (): void => {
    if (lanes.size > 0 || work.size > 0 || work.pending > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolveIdle of waiters) resolveIdle();
  };

  return {
    enqueue: insert,
    pause: () => {
      paused = true;
      work.pause();
      for (const lane of lanes.values()) lane.wake?.abort();
    },
    stop: async (timeoutMs) => {
      paused = true;
      work.pause();
      for (const lane of lanes.values()) lane.wake?.abort();
      const giveUp = new AbortController();
      await Promise.race([work.onPendingZero(), clock.sleep(timeoutMs, giveUp.signal).catch(() => undefined)]);
      giveUp.abort();
    },
    stats: () => ({
      lanes: lanes.size,
      queued: [...lanes.values()].reduce((sum, lane) => sum + lane.entries.length, 0),
      inProgress: work.pending,
    }),
    onIdle: () =>
      new Promise<void>((resolveIdle) => {
        idleWaiters.push(resolveIdle);
        notifyIdle();
      }),
  };
}
