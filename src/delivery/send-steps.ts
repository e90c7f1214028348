import type { ChatwootClient } from '../chatwoot/client.ts';
import { ChatwootError, ChatwootRateLimitedError } from '../chatwoot/errors.ts';
import { backoffDelay, nextWindowDelay, type RetryPolicy } from '../chatwoot/retry-policy.ts';
import type { Message } from '../chatwoot/schemas.ts';
import { describeReference } from '../conversations/reference/parse-reference.ts';
import type { ConversationResolver } from '../conversations/resolve-conversation.ts';
import { ResolveError } from '../conversations/resolve-error.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { failureFromError, WINDOW_CLOSED, waitingReason } from './failures.ts';
import { FileFetchError } from './file-fetch-error.ts';
import type { Pacer } from './pacer.ts';
import type { PrepareContent } from './prepare-content.ts';
import { findMarkedMessage, markerFor } from './reconcile.ts';
import {
  type Failure,
  isAccepted,
  isNote,
  laterState,
  type PartRecord,
  referenceOf,
  type SendContent,
  type SendRecord,
  sendingDone,
} from './send-record.ts';
import type { SendRepository } from './send-repository.ts';

/** Chatwoot's `template_params` for an approved template (reference §4.2); the category is the template's own. */
function templateParamsOf(content: Extract<SendContent, { kind: 'template' }>): Record<string, unknown> {
  return {
    name: content.name,
    language: content.language,
    ...(content.category === undefined ? {} : { category: content.category }),
    ...(content.namespace === undefined ? {} : { namespace: content.namespace }),
    processed_params: content.parameters,
  };
}

export interface SendRetryPolicy extends RetryPolicy {
  /** After an attempt with no known outcome, wait at least this long before looking for the message (a slow Chatwoot may still store it). */
  readonly ambiguousSettleMs: number;
}

export const DEFAULT_SEND_RETRY: SendRetryPolicy = {
  maxAttempts: 60,
  maxTotalMs: 30 * 60_000,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  ambiguousSettleMs: 30_000,
};

/** The outbox retries itself, storing why a send waits, so its requests are single attempts. */
const SEND = { lane: 'send', retry: false } as const;

/** What one step of work on a record concluded. */
export type StepOutcome =
  | { readonly kind: 'progress' }
  | { readonly kind: 'done' }
  | { readonly kind: 'moved'; readonly record: SendRecord }
  | { readonly kind: 'later'; readonly at: number };

export interface SendStepsOptions {
  readonly repository: SendRepository;
  readonly client: ChatwootClient;
  readonly resolver: ConversationResolver;
  readonly prepare: PrepareContent;
  readonly pacer: Pacer;
  /** Told about every part Chatwoot accepted, to watch it leave for WhatsApp. */
  readonly onAccepted: (record: SendRecord) => void;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly retry?: Partial<SendRetryPolicy>;
  /** Refuse free text when the 24-hour window closes within this margin: Chatwoot sends asynchronously. */
  readonly windowMarginMs?: number;
  readonly random?: () => number;
  /** Opens a file to send (a Slack file's bytes, fetched with the bot token and streamed through). */
  readonly files?: FileSource;
}

/** Opens the bytes of a file to send, from where `source` says (never held whole in memory). */
export type FileSource = (source: string, signal?: AbortSignal) => Promise<ReadableStream<Uint8Array>>;

export interface SendSteps {
  /**
   * One step for one record: resolve its conversation, or send its next part. Every step is stored before the
   * request that depends on it, so a crash at any point resumes from the store without sending twice.
   */
  advance(record: SendRecord): Promise<StepOutcome>;
}

/** What a send goes through: resolving, the window check, reopening, reconciling an uncertain attempt, posting. */
export function createSendSteps(options: SendStepsOptions): SendSteps {
  const { repository, client, resolver, pacer, clock, logger } = options;
  const policy: SendRetryPolicy = { ...DEFAULT_SEND_RETRY, ...options.retry };
  const windowMarginMs = options.windowMarginMs ?? 15_000;
  const random = options.random ?? Math.random;

  const attachmentOf = (content: Extract<SendContent, { kind: 'file' }>) => ({
    fileName: content.fileName,
    mimeType: content.mimeType,
    open: (signal?: AbortSignal) => {
      const files = options.files;
      if (files === undefined) throw new Error('no file source is configured to fetch files from');
      return files(content.source, signal);
    },
  });

  const advance = async (initial: SendRecord): Promise<StepOutcome> => {
    let record = initial;
    const now = clock.now();
    if (record.waiting !== undefined && record.waiting.until > now) return { kind: 'later', at: record.waiting.until };
    try {
      if (record.conversation === undefined) {
        record = await resolve(record);
        if (sendingDone(record)) return { kind: 'done' };
        return { kind: 'moved', record };
      }
      return await sendNextPart(record);
    } catch (error) {
      return handleFailure(record, error, undefined);
    }
  };

  const resolve = async (record: SendRecord): Promise<SendRecord> => {
    // Only an approved template may start a conversation with a number that never had one.
    const conversation = await resolver.resolve(referenceOf(record), SEND, {
      create: record.content.kind === 'template',
    });
    const prepared = options.prepare(record.content, conversation.channel);
    if (!prepared.ok) return fail(record, { ...prepared.failure, at: clock.now() });
    logger.info(
      { sendId: record.id, conversationId: conversation.conversationId, parts: prepared.parts.length },
      'send resolved to a conversation',
    );
    return repository.update(record.id, (current) => {
      const { waiting: _waiting, ...rest } = current;
      return {
        ...rest,
        conversation: {
          id: conversation.conversationId,
          inboxId: conversation.inboxId,
          inboxName: conversation.inboxName,
          channel: conversation.channel,
          contactId: conversation.contactId,
          ...(conversation.contactName === undefined ? {} : { contactName: conversation.contactName }),
          ...(conversation.contactPhone === undefined ? {} : { contactPhone: conversation.contactPhone }),
          reopen: conversation.needsReopen ? 'needed' : 'not_needed',
        },
        parts: prepared.parts.map(
          (part, index): PartRecord => ({
            index,
            content: part.content,
            length: part.length,
            state: 'queued',
            attempts: 0,
            ...(current.priorAttemptSince === undefined ? {} : { inFlightSince: current.priorAttemptSince }),
          }),
        ),
      };
    });
  };

  const sendNextPart = async (initial: SendRecord): Promise<StepOutcome> => {
    let record = initial;
    const conversation = record.conversation;
    const part = record.parts.find((candidate) => !isAccepted(candidate.state) && candidate.state !== 'failed');
    if (conversation === undefined || part === undefined) return { kind: 'done' };
    const note = isNote(record);
    const recipient = `contact:${conversation.contactId}`;
    // A private note never reaches WhatsApp: no pacing, no window, and a resolved conversation stays resolved.
    const readyAt = note ? 0 : pacer.nextAt(recipient);
    if (readyAt > clock.now()) return { kind: 'later', at: readyAt };

    if (record.content.kind === 'text' || record.content.kind === 'file') {
      // A send can wait in the queue past the window's end: check again as it leaves (free when still valid).
      const window = await resolver.currentWindow(conversation.id, SEND, windowMarginMs);
      if (!window.open) {
        await fail(record, { ...WINDOW_CLOSED, at: clock.now() }, part.index);
        return { kind: 'done' };
      }
    }
    if (conversation.reopen === 'needed' && !note) {
      await client.setConversationStatus(conversation.id, 'open', SEND);
      await resolver.markOpen(conversation.id);
      record = await repository.update(record.id, (current) =>
        current.conversation === undefined
          ? current
          : { ...current, conversation: { ...current.conversation, reopen: 'done' } },
      );
      logger.info({ sendId: record.id, conversationId: conversation.id }, 'reopened a resolved conversation');
    }
    const marker = { sendId: record.id, part: part.index };
    if (part.inFlightSince !== undefined) {
      const found = await findMarkedMessage(client, conversation.id, marker, part.inFlightSince, SEND);
      if (found !== undefined) {
        logger.info(
          { sendId: record.id, part: part.index, messageId: found.id },
          'found the message of an uncertain attempt',
        );
        await accept(record, part.index, found);
        return { kind: 'progress' };
      }
    }

    if (!note) pacer.take(recipient);
    const attemptAt = clock.now();
    record = await updatePart(record.id, part.index, (current) => ({
      ...current,
      attempts: current.attempts + 1,
      inFlightSince: attemptAt,
    }));
    let message: Message;
    try {
      message = await client.createMessage(
        conversation.id,
        {
          content: part.content,
          contentAttributes: markerFor(record.id, part.index),
          ...(note ? { private: true } : {}),
          ...(record.content.kind === 'template' ? { templateParams: templateParamsOf(record.content) } : {}),
          ...(record.content.kind === 'file' ? { attachment: attachmentOf(record.content) } : {}),
        },
        SEND,
      );
    } catch (error) {
      return handleFailure(record, error, part.index);
    }
    await accept(record, part.index, message);
    return record.parts.length === part.index + 1 ? { kind: 'done' } : { kind: 'progress' };
  };

  const updatePart = (id: string, index: number, change: (part: PartRecord) => PartRecord): Promise<SendRecord> =>
    repository.update(id, (current) => ({
      ...current,
      parts: current.parts.map((part) => (part.index === index ? change(part) : part)),
    }));

  const accept = async (record: SendRecord, index: number, message: Message): Promise<void> => {
    const at = clock.now();
    const updated = await repository.update(record.id, (current) => {
      const { waiting: _waiting, ...rest } = current;
      return {
        ...rest,
        parts: current.parts.map((part) => {
          if (part.index !== index) return part;
          const { inFlightSince: _inFlight, ...settled } = part;
          return {
            ...settled,
            // A webhook may already have reported a later state for it.
            state: laterState(part.state, message.source_id === undefined ? 'accepted' : 'sent'),
            messageId: message.id,
            ...(message.source_id === undefined ? {} : { whatsappId: message.source_id, sentAt: at }),
            acceptedAt: at,
          };
        }),
      };
    });
    logger.info(
      { sendId: record.id, part: index, messageId: message.id, conversationId: record.conversation?.id },
      'chatwoot accepted the message',
    );
    if (!isNote(updated)) options.onAccepted(updated);
  };

  const fail = async (record: SendRecord, failure: Failure, partIndex?: number): Promise<SendRecord> => {
    const failed = await repository.update(record.id, (current) => {
      const { waiting: _waiting, ...rest } = current;
      return {
        ...rest,
        failure,
        ...(partIndex === undefined || current.parts.length < 2 ? {} : { failedPart: partIndex }),
        parts: current.parts.map((part) => {
          if (part.index !== partIndex) return part;
          const { inFlightSince: _inFlight, ...settled } = part;
          return settled;
        }),
      };
    });
    logger.warn(
      {
        sendId: record.id,
        code: failure.code,
        reference: record.reference.kind === 'phone' ? 'phone' : describeReference(referenceOf(record)),
      },
      'send failed',
    );
    return failed;
  };

  /**
   * Retryable failures wait (stored, with why); failures a person must fix, or waiting past the retry horizon, fail
   * the send. A write that may have been stored keeps its in-flight mark so the next try looks for it first.
   */
  const handleFailure = async (
    record: SendRecord,
    error: unknown,
    partIndex: number | undefined,
  ): Promise<StepOutcome> => {
    const now = clock.now();
    const retryable =
      error instanceof ChatwootError || error instanceof FileFetchError
        ? error.retryable
        : !(error instanceof ResolveError);
    if (!retryable) {
      await fail(record, failureFromError(error, now), partIndex);
      return { kind: 'done' };
    }
    const failures = (record.waiting?.failures ?? 0) + 1;
    const since = record.waiting?.since ?? now;
    if (failures >= policy.maxAttempts || now - since > policy.maxTotalMs) {
      await fail(record, failureFromError(error, now), partIndex);
      return { kind: 'done' };
    }
    const ambiguous = error instanceof ChatwootError && error.ambiguous;
    let delay =
      error instanceof ChatwootRateLimitedError
        ? nextWindowDelay(error.serverTime, now, random)
        : backoffDelay(failures, policy, random);
    if (ambiguous) delay = Math.max(delay, policy.ambiguousSettleMs);
    if (!(error instanceof ChatwootError))
      logger.error({ err: error, sendId: record.id }, 'unexpected error while sending');
    const { code, reason } = waitingReason(error);
    const until = now + delay;
    await repository.update(record.id, (current) => ({
      ...current,
      waiting: { code, reason, until, failures, since },
      parts: current.parts.map((part) => {
        // Nothing was stored by a failure that proves it: the next try need not look for it.
        if (part.index !== partIndex || ambiguous) return part;
        const { inFlightSince: _inFlight, ...settled } = part;
        return settled;
      }),
    }));
    logger.warn({ sendId: record.id, code, retryInMs: delay, failures, ambiguous }, 'send waiting to retry');
    return { kind: 'later', at: until };
  };

  return { advance };
}
