import { type ChatwootClient, createChatwootClient } from './chatwoot/client.ts';
import { createRequestBudget, type RequestBudget } from './chatwoot/request-budget.ts';
import type { RetryPolicy } from './chatwoot/retry-policy.ts';
import type { Message } from './chatwoot/schemas.ts';
import type { Config } from './config/load-config.ts';
import { createInboxDirectory, type InboxDirectory, TEXT_LIMIT } from './conversations/inbox-directory.ts';
import type { ConversationReference } from './conversations/reference/parse-reference.ts';
import {
  type ConversationFacts,
  type ConversationResolver,
  createConversationResolver,
} from './conversations/resolve-conversation.ts';
import { checkMedia } from './delivery/media.ts';
import { createOutbox, type Outbox, type OutboxStats } from './delivery/outbox.ts';
import { createPacer } from './delivery/pacer.ts';
import { MAX_PARTS, prepareContent } from './delivery/prepare-content.ts';
import {
  isNote,
  type Requester,
  type SendContent,
  type SendRecord,
  sendIdFor,
  sendingDone,
} from './delivery/send-record.ts';
import { createSendRepository, type SendListener, type SendRepository } from './delivery/send-repository.ts';
import type { FileSource, SendRetryPolicy } from './delivery/send-steps.ts';
import { createStatusTracker, type StatusTracker } from './delivery/status-tracker.ts';
import type { Clock } from './shared/clock.ts';
import type { Logger } from './shared/logger.ts';
import type { Store } from './store/types.ts';

/** A request to send: where, what, who asked, and the caller's key that makes repeating it harmless. */
export interface SendRequest {
  /** Same key, same send: a repeated request (a Slack retry, a double click) returns the first one. */
  readonly idempotencyKey: string;
  readonly reference: ConversationReference;
  readonly content: SendContent;
  readonly requestedBy: Requester;
  /**
   * Another process may already have sent this (the CLI run again with the same key): look for the message in
   * Chatwoot before sending.
   */
  readonly checkChatwootFirst?: boolean;
}

export interface SubmitResult {
  readonly record: SendRecord;
  /** The key was seen before; nothing new was queued. */
  readonly duplicate: boolean;
}

/** The request itself is unusable (empty or far too long text); nothing was stored. */
export class SubmitError extends Error {
  override readonly name = 'SubmitError';
  readonly code: 'text_empty' | 'text_too_long' | 'media_refused';
  constructor(code: 'text_empty' | 'text_too_long' | 'media_refused', message: string) {
    super(message);
    this.code = code;
  }
}

export interface BridgeTuning {
  readonly clientRetry?: Partial<RetryPolicy>;
  readonly sendRetry?: Partial<SendRetryPolicy>;
  readonly windowMarginMs?: number;
  readonly statusFirstDelayMs?: number;
  readonly statusMaxDelayMs?: number;
  readonly contactSearchPerMinute?: number;
}

export interface BridgeDeps {
  readonly config: Pick<Config, 'chatwoot' | 'whatsapp' | 'conversationCacheTtlMs'>;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  readonly random?: () => number;
  readonly tuning?: BridgeTuning;
  /** Where files to send are fetched from (the Slack app's download with the bot token). */
  readonly files?: FileSource;
}

export interface BridgeStats {
  readonly outbox: OutboxStats;
  readonly watchedConversations: number;
  readonly requests: ReturnType<RequestBudget['stats']>;
}

/** The delivery core: everything the Slack app and the CLI do with WhatsApp goes through it. */
export interface Bridge {
  readonly client: ChatwootClient;
  readonly inboxes: InboxDirectory;
  readonly resolver: ConversationResolver;
  readonly budget: RequestBudget;
  /** Stores the request, then queues it; resolves once it is safely stored (never waits for Chatwoot). */
  submit(request: SendRequest): Promise<SubmitResult>;
  get(sendId: string): Promise<SendRecord | undefined>;
  /** Every state change of every send, as stored. */
  onChange(listener: SendListener): () => void;
  /** Resumes sends that were accepted but not finished before the last stop or crash. */
  start(): Promise<{ resumed: number }>;
  /** Stops taking work at once (the store lease was lost: another process may be sending). */
  halt(): void;
  /** Lets running work finish (up to `timeoutMs`); everything else stays stored for the next start. */
  stop(timeoutMs?: number): Promise<void>;
  stats(): BridgeStats;
  /** Resolves when nothing is queued or being sent (status re-reads may continue). */
  idle(): Promise<void>;
  /** A message as a Chatwoot webhook reported it: applied to its send when it is one of ours. */
  observeMessage(message: Message): Promise<SendRecord | undefined>;
  /** A verified webhook arrived: re-reads become a slower safety net. */
  noteWebhook(): void;
  /** Webhooks arrived lately (polling may slow down). */
  webhooksHealthy(): boolean;
}

/** After a restart, sends that changed within this long are watched again until read (the tracker's horizon). */
const WATCH_AFTER_RESTART_MS = 6 * 60 * 60_000;
/** Webhooks count as arriving while the last one is this recent. */
const WEBHOOK_HEALTHY_MS = 10 * 60_000;

export function createBridge(deps: BridgeDeps): Bridge {
  const { config, store, clock, logger } = deps;
  const tuning = deps.tuning ?? {};
  const budget = createRequestBudget({
    requestsPerMinute: config.chatwoot.requestsPerMinute,
    concurrency: config.chatwoot.concurrency,
    clock,
    logger,
    ...(tuning.contactSearchPerMinute === undefined ? {} : { contactSearchPerMinute: tuning.contactSearchPerMinute }),
  });
  const client = createChatwootClient({
    baseUrl: config.chatwoot.baseUrl,
    apiAccessToken: config.chatwoot.apiAccessToken,
    accountId: config.chatwoot.accountId,
    timeoutMs: config.chatwoot.timeoutMs,
    budget,
    clock,
    logger,
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(tuning.clientRetry === undefined ? {} : { retry: tuning.clientRetry }),
  });
  const inboxes = createInboxDirectory({ client, clock, inboxId: config.chatwoot.inboxId });
  const resolver = createConversationResolver({
    client,
    inboxes,
    references: store.namespace<number>('references'),
    conversations: store.namespace<ConversationFacts>('conversations'),
    ttlMs: config.conversationCacheTtlMs,
    clock,
    logger,
  });
  const repository: SendRepository = createSendRepository({
    store: store.namespace<SendRecord>('sends'),
    clock,
    logger,
  });
  let lastWebhookAt = Number.NEGATIVE_INFINITY;
  const tracker: StatusTracker = createStatusTracker({
    client,
    repository,
    clock,
    logger,
    webhooksHealthy: () => clock.now() - lastWebhookAt < WEBHOOK_HEALTHY_MS,
    ...(tuning.statusFirstDelayMs === undefined ? {} : { firstDelayMs: tuning.statusFirstDelayMs }),
    ...(tuning.statusMaxDelayMs === undefined ? {} : { maxDelayMs: tuning.statusMaxDelayMs }),
  });
  const outbox: Outbox = createOutbox({
    repository,
    client,
    resolver,
    prepare: prepareContent,
    pacer: createPacer({ intervalMs: config.whatsapp.pacingMs, burst: config.whatsapp.pacingBurst, clock }),
    onAccepted: (record) => tracker.watch(record),
    clock,
    logger,
    concurrency: config.chatwoot.concurrency,
    ...(tuning.sendRetry === undefined ? {} : { retry: tuning.sendRetry }),
    ...(tuning.windowMarginMs === undefined ? {} : { windowMarginMs: tuning.windowMarginMs }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(deps.files === undefined ? {} : { files: deps.files }),
  });

  let lastSeq = 0;
  const nextSeq = (): number => {
    lastSeq = Math.max(lastSeq + 1, clock.now() * 1000);
    return lastSeq;
  };

  const validate = (content: SendContent): void => {
    if (content.kind === 'file') {
      const media = checkMedia(content);
      if (!media.ok) throw new SubmitError('media_refused', `${media.message} ${media.advice}`);
      return;
    }
    if (content.kind !== 'text' && content.kind !== 'note') return;
    // The channel (and with it the limit) is known only once resolved; refuse now what no channel could take.
    const prepared = prepareContent(content, 'whatsapp');
    if (!prepared.ok && (prepared.failure.code === 'text_empty' || prepared.failure.code === 'text_too_long')) {
      throw new SubmitError(prepared.failure.code, prepared.failure.message);
    }
  };

  return {
    client,
    inboxes,
    resolver,
    budget,
    submit: async (request) => {
      validate(request.content);
      const id = sendIdFor(request.idempotencyKey);
      const now = clock.now();
      const { record, created } = await repository.create({
        version: 1,
        id,
        idempotencyKey: request.idempotencyKey,
        seq: nextSeq(),
        createdAt: now,
        updatedAt: now,
        requestedBy: request.requestedBy,
        reference: request.reference,
        content: request.content,
        state: 'queued',
        parts: [],
        ...(request.checkChatwootFirst === true ? { priorAttemptSince: 0 } : {}),
      });
      if (created) {
        logger.info(
          {
            sendId: id,
            via: request.requestedBy.via,
            slackUser: request.requestedBy.userId,
            reference: request.reference.kind,
            textLength: 'text' in request.content ? request.content.text.length : undefined,
          },
          'send accepted',
        );
        outbox.enqueue(record);
      }
      return { record, duplicate: !created };
    },
    get: (sendId) => repository.get(sendId),
    onChange: (listener) => repository.onChange(listener),
    start: async () => {
      const pending = await repository.pending(WATCH_AFTER_RESTART_MS);
      for (const record of pending) {
        if (sendingDone(record)) {
          if (!isNote(record)) tracker.watch(record);
        } else outbox.enqueue(record);
      }
      if (pending.length > 0) logger.info({ count: pending.length }, 'resumed unfinished sends');
      return { resumed: pending.length };
    },
    halt: () => {
      outbox.pause();
      tracker.stop();
      budget.clear();
    },
    stop: async (timeoutMs = 10_000) => {
      await outbox.stop(timeoutMs);
      tracker.stop();
    },
    stats: () => ({ outbox: outbox.stats(), watchedConversations: tracker.size(), requests: budget.stats() }),
    idle: () => outbox.onIdle(),
    observeMessage: (message) => tracker.observe(message),
    noteWebhook: () => {
      lastWebhookAt = clock.now();
    },
    webhooksHealthy: () => clock.now() - lastWebhookAt < WEBHOOK_HEALTHY_MS,
  };
}

export { MAX_PARTS, TEXT_LIMIT };
