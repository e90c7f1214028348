import type Keyv from 'keyv';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { iterateNamespace } from '../store/open-store.ts';
import { aggregateState, type SendRecord, sendingDone, sendRecordSchema } from './send-record.ts';

/** Records stay this long once sending is done: to answer a repeated request with the same key, and for status. */
export const FINISHED_RETENTION_MS = 30 * 24 * 60 * 60_000;

export type SendListener = (record: SendRecord, previous: SendRecord | undefined) => void;

export interface SendRepository {
  get(id: string): Promise<SendRecord | undefined>;
  /** Stores a new record unless one with its id exists; the write completes before this resolves. */
  create(record: SendRecord): Promise<{ record: SendRecord; created: boolean }>;
  /** Applies `change` to the latest version and stores it; changes to one record run one at a time. */
  update(id: string, change: (record: SendRecord) => SendRecord): Promise<SendRecord>;
  /** Every stored record still being sent, or sent within `watchWindowMs` and not yet delivered; oldest first. */
  pending(watchWindowMs: number): Promise<SendRecord[]>;
  onChange(listener: SendListener): () => void;
  /** Drops a record from memory (it stays stored): nothing is watching it any more. */
  forget(id: string): void;
}

export interface SendRepositoryOptions {
  readonly store: Keyv<SendRecord>;
  readonly clock: Clock;
  readonly logger: Logger;
}

export function createSendRepository(options: SendRepositoryOptions): SendRepository {
  const { store, clock, logger } = options;
  const active = new Map<string, SendRecord>();
  const queues = new Map<string, Promise<unknown>>();
  const listeners = new Set<SendListener>();

  /** Runs `task` after every earlier task for the same id. */
  const serial = <T>(id: string, task: () => Promise<T>): Promise<T> => {
    const previous = queues.get(id) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    queues.set(id, tail);
    void tail.then(() => {
      if (queues.get(id) === tail) queues.delete(id);
    });
    return next;
  };

  const read = async (id: string): Promise<SendRecord | undefined> => {
    const cached = active.get(id);
    if (cached !== undefined) return cached;
    const raw = await store.get(id);
    if (raw === undefined) return undefined;
    const parsed = sendRecordSchema.safeParse(raw);
    if (!parsed.success) {
      logger.error({ sendId: id, issues: parsed.error.issues.slice(0, 3) }, 'stored send record is unreadable');
      return undefined;
    }
    return parsed.data;
  };

  const write = async (record: SendRecord): Promise<void> => {
    await store.set(record.id, record, sendingDone(record) ? FINISHED_RETENTION_MS : undefined);
    // Kept in memory while anything still reads it often: the outbox while sending, the tracker while delivering.
    if (!sendingDone(record) || beingDelivered(record)) active.set(record.id, record);
    else active.delete(record.id);
  };

  const emit = (record: SendRecord, previous: SendRecord | undefined): void => {
    for (const listener of listeners) {
      try {
        listener(record, previous);
      } catch (error) {
        logger.error({ err: error, sendId: record.id }, 'send listener failed');
      }
    }
  };

  return {
    get: read,
    create: (record) =>
      serial(record.id, async () => {
        const existing = await read(record.id);
        if (existing !== undefined) return { record: existing, created: false };
        await write(record);
        emit(record, undefined);
        return { record, created: true };
      }),
    update: (id, change) =>
      serial(id, async () => {
        const current = await read(id);
        if (current === undefined) throw new Error(`send ${id} does not exist`);
        const changed = change(current);
        if (changed === current) return current;
        const next: SendRecord = { ...changed, state: aggregateState(changed), updatedAt: clock.now() };
        await write(next);
        emit(next, current);
        return next;
      }),
    pending: async (watchWindowMs) => {
      const records: SendRecord[] = [];
      const watchSince = clock.now() - watchWindowMs;
      for await (const [, raw] of iterateNamespace(store)) {
        const parsed = sendRecordSchema.safeParse(raw);
        if (!parsed.success) continue;
        const record = parsed.data;
        if (!sendingDone(record) || (beingDelivered(record) && record.updatedAt >= watchSince)) {
          records.push(record);
          active.set(record.id, record);
        }
      }
      return records.sort((a, b) => a.seq - b.seq);
    },
    forget: (id) => {
      const record = active.get(id);
      if (record !== undefined && sendingDone(record)) active.delete(id);
    },
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Chatwoot has it and WhatsApp has not said the last word (read, or failed) yet. */
export function beingDelivered(record: SendRecord): boolean {
  return (
    record.content.kind !== 'note' &&
    (record.state === 'accepted' || record.state === 'sent' || record.state === 'delivered')
  );
}
