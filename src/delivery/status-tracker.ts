import type { ChatwootClient } from '../chatwoot/client.ts';
import type { Message } from '../chatwoot/schemas.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { failureFromWhatsApp } from './failures.ts';
import { markerOf } from './reconcile.ts';
import { laterState, type PartRecord, type SendRecord, type SendState } from './send-record.ts';
import type { SendRepository } from './send-repository.ts';

export interface StatusTrackerOptions {
  readonly client: ChatwootClient;
  readonly repository: SendRepository;
  readonly clock: Clock;
  readonly logger: Logger;
  /** First re-read after a message is accepted; doubles up to `maxDelayMs`. */
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Stop re-reading a conversation after this long (webhooks, when configured, still report later changes). */
  readonly giveUpAfterMs?: number;
  /** Re-reads in flight at once; they use the background lane, so they never delay sends. */
  readonly concurrency?: number;
  /** Webhooks are arriving: re-reads are only the safety net then, so they come five times less often. */
  readonly webhooksHealthy?: () => boolean;
}

export interface StatusTracker {
  /** Watch the record's parts until WhatsApp delivers and the customer reads them (or WhatsApp rejects them). */
  watch(record: SendRecord): void;
  /** A message as Chatwoot reported it (a webhook): applied to the send it belongs to, if it is one of ours. */
  observe(message: Message): Promise<SendRecord | undefined>;
  /** Conversations being watched. */
  size(): number;
  stop(): void;
}

interface Watched {
  readonly sendIds: Set<string>;
  nextAt: number;
  delay: number;
  readonly since: number;
  /** Every part is delivered: only `read` is awaited. */
  onlyRead: boolean;
}

/**
 * A 200 from Chatwoot means stored, not sent: WhatsApp's answers (sent, delivered, or a failure, which can come even
 * after sent) arrive asynchronously. Re-reads the messages of each conversation with sends in flight, batched (one
 * request covers the id range of all of them), soon at first and then less often, until delivered or
 * `giveUpAfterMs`.
 */
export function createStatusTracker(options: StatusTrackerOptions): StatusTracker {
  const { client, repository, clock, logger } = options;
  const firstDelayMs = options.firstDelayMs ?? 2_000;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const giveUpAfterMs = options.giveUpAfterMs ?? 6 * 60 * 60_000;
  const webhooksHealthy = options.webhooksHealthy ?? (() => false);
  const concurrency = options.concurrency ?? 2;
  const watched = new Map<number, Watched>();
  let running = 0;
  let stopped = false;
  let wake: AbortController | undefined;
  let wakeAt = Number.POSITIVE_INFINITY;

  // WhatsApp can still reject a message it took (e.g. 131026 undeliverable), and `read` comes last: watch until read.
  const awaiting = (part: PartRecord): boolean =>
    (part.state === 'accepted' || part.state === 'sent' || part.state === 'delivered') && part.messageId !== undefined;
  const undelivered = (part: PartRecord): boolean =>
    (part.state === 'accepted' || part.state === 'sent') && part.messageId !== undefined;

  /**
   * How long re-reads of a conversation may back off to: a minute while WhatsApp has not delivered, five once only
   * `read` is awaited (it may never come: read receipts can be off), five times longer while webhooks arrive.
   */
  const capFor = (entry: Watched): number => (entry.onlyRead ? 5 : 1) * (webhooksHealthy() ? 5 : 1) * maxDelayMs;

  /** Sleeps until `at` unless an earlier wake-up is already set; one timer for every conversation watched. */
  const wakeBy = (at: number): void => {
    if (stopped || at >= wakeAt) return;
    wake?.abort();
    const controller = new AbortController();
    wake = controller;
    wakeAt = at;
    clock.sleep(Math.max(0, at - clock.now()), controller.signal).then(
      () => {
        if (wake !== controller) return;
        wake = undefined;
        wakeAt = Number.POSITIVE_INFINITY;
        pollDue();
      },
      () => undefined,
    );
  };

  const pollDue = (): void => {
    if (stopped) return;
    const now = clock.now();
    const due = [...watched.entries()]
      .filter(([, entry]) => entry.nextAt <= now)
      .sort((a, b) => a[1].nextAt - b[1].nextAt);
    for (const [conversationId, entry] of due) {
      if (running >= concurrency) break;
      running += 1;
      entry.nextAt = Number.POSITIVE_INFINITY;
      poll(conversationId, entry)
        .catch((error: unknown) => logger.warn({ err: error, conversationId }, 'status re-read failed'))
        .finally(() => {
          running -= 1;
          if (watched.get(conversationId) === entry) {
            entry.delay = Math.min(capFor(entry), entry.delay * 2);
            entry.nextAt = clock.now() + entry.delay;
          }
          pollDue();
        });
    }
    if (running < concurrency) {
      const next = Math.min(...[...watched.values()].map((entry) => entry.nextAt));
      if (Number.isFinite(next)) wakeBy(next);
    }
  };

  const poll = async (conversationId: number, entry: Watched): Promise<void> => {
    const records = (await Promise.all([...entry.sendIds].map((id) => repository.get(id)))).filter(
      (record): record is SendRecord => record !== undefined,
    );
    const ids = records.flatMap((record) => record.parts.filter(awaiting).map((part) => part.messageId ?? 0));
    if (ids.length === 0) {
      watched.delete(conversationId);
      return;
    }
    const low = Math.min(...ids);
    const high = Math.max(...ids);
    // With both bounds Chatwoot returns ids in [after, before): exactly the range, in one request.
    const messages = await client.listMessages(
      conversationId,
      { after: low, before: high + 1 },
      { lane: 'background', retry: false },
    );
    const byId = new Map(messages.map((message) => [message.id, message]));
    let onlyRead = true;
    for (const record of records) {
      const changed = await applyStatuses(record, byId);
      if (!changed.parts.some(awaiting) || changed.state === 'failed') {
        entry.sendIds.delete(record.id);
        repository.forget(record.id);
      } else if (changed.parts.some(undelivered)) onlyRead = false;
    }
    entry.onlyRead = onlyRead;
    if (entry.sendIds.size === 0) watched.delete(conversationId);
    else if (clock.now() - entry.since > giveUpAfterMs) {
      logger.info({ conversationId, sends: entry.sendIds.size }, 'messages not delivered yet; stopped re-reading them');
      for (const id of entry.sendIds) repository.forget(id);
      watched.delete(conversationId);
    }
  };

  const applyStatuses = (
    record: SendRecord,
    byId: Map<number, Message>,
    adopt?: { index: number; id: number },
  ): Promise<SendRecord> =>
    repository.update(record.id, (current) => {
      let failure = current.failure;
      let failedPart = current.failedPart;
      let changed = false;
      const at = clock.now();
      const parts = current.parts.map((original): PartRecord => {
        const adopted = adopt !== undefined && original.messageId === undefined && original.index === adopt.index;
        const part: PartRecord = adopted
          ? (() => {
              const { inFlightSince: _inFlight, ...settled } = original;
              return { ...settled, messageId: adopt.id, acceptedAt: at };
            })()
          : original;
        const message = part.messageId === undefined ? undefined : byId.get(part.messageId);
        if (message === undefined) return part;
        if (adopted) changed = true;
        const observed = observedState(message);
        const next = laterState(part.state, observed);
        if (next === part.state) return part;
        changed = true;
        if (next === 'failed') {
          const externalError = message.content_attributes['external_error'];
          failure ??= failureFromWhatsApp(typeof externalError === 'string' ? externalError : undefined, at);
          if (current.parts.length > 1) failedPart ??= part.index;
        }
        // Later states imply the earlier ones (WhatsApp skips `delivered` when `read` comes first).
        return {
          ...part,
          state: next,
          ...(message.source_id === undefined ? {} : { whatsappId: message.source_id }),
          ...(next !== 'failed' && part.sentAt === undefined ? { sentAt: at } : {}),
          ...(next === 'delivered' || next === 'read' ? { deliveredAt: part.deliveredAt ?? at } : {}),
          ...(next === 'read' ? { readAt: at } : {}),
        };
      });
      if (!changed) return current;
      return {
        ...current,
        parts,
        ...(failure === undefined ? {} : { failure }),
        ...(failedPart === undefined ? {} : { failedPart }),
      };
    });

  return {
    watch: (record) => {
      const conversationId = record.conversation?.id;
      if (stopped || conversationId === undefined || !record.parts.some(awaiting)) return;
      let entry = watched.get(conversationId);
      if (entry === undefined) {
        entry = {
          sendIds: new Set(),
          nextAt: clock.now() + firstDelayMs,
          delay: firstDelayMs,
          since: clock.now(),
          onlyRead: !record.parts.some(undelivered),
        };
        watched.set(conversationId, entry);
      } else if (entry.nextAt !== Number.POSITIVE_INFINITY) {
        // New activity: look again soon rather than at the backed-off time.
        entry.delay = firstDelayMs;
        entry.nextAt = Math.min(entry.nextAt, clock.now() + firstDelayMs);
      }
      entry.sendIds.add(record.id);
      if (running < concurrency) wakeBy(entry.nextAt);
    },
    observe: async (message) => {
      const marker = markerOf(message);
      if (marker === undefined) return undefined;
      const record = await repository.get(marker.sendId);
      const part = record?.parts.find(
        (candidate) =>
          candidate.messageId === message.id || (candidate.messageId === undefined && candidate.index === marker.part),
      );
      if (record === undefined || part === undefined) return undefined;
      // The webhook can beat Chatwoot's answer to the send itself: the part learns its message id from it.
      const changed = await applyStatuses(record, new Map([[message.id, message]]), {
        index: part.index,
        id: message.id,
      });
      const conversationId = changed.conversation?.id;
      const entry = conversationId === undefined ? undefined : watched.get(conversationId);
      if (entry !== undefined && (!changed.parts.some(awaiting) || changed.state === 'failed')) {
        entry.sendIds.delete(changed.id);
        repository.forget(changed.id);
        if (entry.sendIds.size === 0 && conversationId !== undefined) watched.delete(conversationId);
      }
      return changed;
    },
    size: () => watched.size,
    stop: () => {
      stopped = true;
      wake?.abort();
      watched.clear();
    },
  };
}

/** Chatwoot's message status as one of our states. Its `sent` is also the default before WhatsApp saw it, so `sent` needs `source_id`. */
function observedState(message: Message): SendState {
  if (message.status === 'failed') return 'failed';
  if (message.status === 'read') return 'read';
  if (message.status === 'delivered') return 'delivered';
  return message.source_id === undefined ? 'accepted' : 'sent';
}
