import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ConversationReference } from '../conversations/reference/parse-reference.ts';
import { conversationFactsSchema } from '../conversations/resolve-conversation.ts';

/**
 * One send, one record. Its states, shared by everything that reports on it, only move forward:
 * queued → waiting (retrying, with why) → accepted (Chatwoot stored it: message id) → sent (WhatsApp took it:
 * `source_id` set) → delivered → read; failed (with a reason a person can act on) from any of them.
 */
export const SEND_STATES = ['queued', 'waiting', 'accepted', 'sent', 'delivered', 'read', 'failed'] as const;
export type SendState = (typeof SEND_STATES)[number];
export type ProgressState = Exclude<SendState, 'failed'>;

const RANK: Record<ProgressState, number> = { queued: 0, waiting: 1, accepted: 2, sent: 3, delivered: 4, read: 5 };

export function rank(state: ProgressState): number {
  return RANK[state];
}

/** The later of two states; `failed` wins over everything. */
export function laterState(a: SendState, b: SendState): SendState {
  if (a === 'failed' || b === 'failed') return 'failed';
  return RANK[a] >= RANK[b] ? a : b;
}

/** States after which nothing more is done for the part by the sender (tracking may continue). */
export function isAccepted(state: SendState): boolean {
  return state !== 'failed' && RANK[state] >= RANK.accepted;
}

const referenceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('id'), conversationId: z.number(), looksLikePhone: z.boolean() }),
  z.object({ kind: z.literal('url'), conversationId: z.number() }),
  z.object({ kind: z.literal('phone'), e164: z.string(), country: z.string().optional() }),
]);

/**
 * What to send. A union from the start: text now; templates and files arrive with later features and slot in
 * here without reshaping records or the queue.
 */
export const sendContentSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('text'),
    /** As the user wrote it, in Slack's mrkdwn. */
    text: z.string(),
    /** Display names for mentions in the text, looked up by the caller (user/channel/group id → name). */
    names: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    /** A private note in the Chatwoot conversation, for the team: never sent to WhatsApp. */
    kind: z.literal('note'),
    /** As the user wrote it, in Slack's mrkdwn. */
    text: z.string(),
    names: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    kind: z.literal('template'),
    name: z.string(),
    language: z.string(),
    category: z.string().optional(),
    /** 360dialog templates only. */
    namespace: z.string().optional(),
    /** Chatwoot's `processed_params`: body, header and button values. */
    parameters: z.record(z.string(), z.unknown()),
    /** The rendered text, stored in Chatwoot so the transcript stays readable. */
    rendered: z.string(),
  }),
  z.object({
    kind: z.literal('file'),
    fileName: z.string(),
    mimeType: z.string(),
    size: z.number(),
    /** Where the file can be fetched from when it is sent (a Slack file's private download URL). */
    source: z.string(),
    /** Slack mrkdwn, sent as the file's caption. */
    caption: z.string().optional(),
    names: z.record(z.string(), z.string()).optional(),
  }),
]);
export type SendContent = z.infer<typeof sendContentSchema>;

export const requesterSchema = z.object({
  /** Which way in: 'slack_command', 'slack_modal', 'cli', … */
  via: z.string(),
  userId: z.string().optional(),
  userName: z.string().optional(),
  channelId: z.string().optional(),
});
export type Requester = z.infer<typeof requesterSchema>;

export const failureSchema = z.object({
  /** Stable, for code and alerts: 'window_closed', 'unknown_number', 'chatwoot_unavailable', 'whatsapp_failed', … */
  code: z.string(),
  /** What happened, in plain words. */
  message: z.string(),
  /** What a person can do about it. */
  advice: z.string(),
  /** A retry (by a person) can succeed without changing anything else. */
  retryable: z.boolean(),
  /** WhatsApp's error as Chatwoot reported it, e.g. '131047: Re-engagement message'. */
  whatsappError: z.string().optional(),
  at: z.number(),
});
export type Failure = z.infer<typeof failureSchema>;

export const partSchema = z.object({
  index: z.number(),
  /** CommonMark posted to Chatwoot. */
  content: z.string(),
  /** Characters as WhatsApp counts them. */
  length: z.number(),
  state: z.enum(SEND_STATES),
  messageId: z.number().optional(),
  whatsappId: z.string().optional(),
  attempts: z.number(),
  /** An attempt started at this time has no known outcome: Chatwoot may have stored it. Reconcile first. */
  inFlightSince: z.number().optional(),
  acceptedAt: z.number().optional(),
  sentAt: z.number().optional(),
  deliveredAt: z.number().optional(),
  readAt: z.number().optional(),
});
export type PartRecord = z.infer<typeof partSchema>;

export const waitingSchema = z.object({
  code: z.string(),
  /** Why, in plain words: 'Chatwoot is not answering (502)'. */
  reason: z.string(),
  /** The next attempt, ms since epoch. */
  until: z.number(),
  failures: z.number(),
  since: z.number(),
});
export type Waiting = z.infer<typeof waitingSchema>;

export const conversationInfoSchema = conversationFactsSchema
  .pick({ inboxId: true, inboxName: true, channel: true, contactId: true, contactName: true, contactPhone: true })
  .extend({
    id: z.number(),
    /**
     * A resolved conversation is reopened before the first part goes out, so the customer's answer comes back to
     * it: 'needed' until then, 'done' after (the thread says so).
     */
    reopen: z.enum(['not_needed', 'needed', 'done']),
  });
export type ConversationInfo = z.infer<typeof conversationInfoSchema>;

export const sendRecordSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  idempotencyKey: z.string(),
  /** Acceptance order; messages to one conversation go out in this order. */
  seq: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
  requestedBy: requesterSchema,
  reference: referenceSchema,
  content: sendContentSchema,
  state: z.enum(SEND_STATES),
  conversation: conversationInfoSchema.optional(),
  parts: z.array(partSchema),
  waiting: waitingSchema.optional(),
  failure: failureSchema.optional(),
  /** The part whose failure failed the send, when there are several. */
  failedPart: z.number().optional(),
  /**
   * Another process may already have sent this since then (ms since epoch; the CLI run again with the same key):
   * each part is looked for in Chatwoot before its first attempt.
   */
  priorAttemptSince: z.number().optional(),
});
export type SendRecord = z.infer<typeof sendRecordSchema>;

/**
 * A send's id follows from the caller's idempotency key, so the same key always names the same send — across
 * processes too, since the id travels with the message into Chatwoot.
 */
export function sendIdFor(idempotencyKey: string): string {
  return `s${createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 22)}`;
}

/** The record's overall state from its parts; never earlier than it already was. */
export function aggregateState(record: Pick<SendRecord, 'state' | 'parts' | 'waiting' | 'failure'>): SendState {
  if (record.failure !== undefined || record.parts.some((part) => part.state === 'failed')) return 'failed';
  let computed: SendState;
  if (record.parts.length === 0) computed = record.waiting === undefined ? 'queued' : 'waiting';
  else {
    computed = record.parts.reduce<ProgressState>(
      (min, part) => (part.state !== 'failed' && rank(part.state) < rank(min) ? part.state : min),
      'read',
    );
    if (computed === 'queued' && record.waiting !== undefined) computed = 'waiting';
  }
  return laterState(record.state, computed);
}

/** Nothing more to send: every part accepted, or the send failed. */
export function sendingDone(record: SendRecord): boolean {
  return record.state === 'failed' || (record.parts.length > 0 && record.parts.every((part) => isAccepted(part.state)));
}

/** Chatwoot reports nothing more that changes the record: every part read, a note stored, or the send failed. */
export function isFinal(record: SendRecord): boolean {
  if (isNote(record) && sendingDone(record)) return true;
  return record.state === 'failed' || record.state === 'read';
}

/** A private note: stored in Chatwoot, never sent to WhatsApp, so no window, pacing, reopening or delivery. */
export function isNote(record: Pick<SendRecord, 'content'>): boolean {
  return record.content.kind === 'note';
}

/** The stored reference in the parser's shape (JSON drops keys whose value is undefined). */
export function referenceOf(record: Pick<SendRecord, 'reference'>): ConversationReference {
  const reference = record.reference;
  return reference.kind === 'phone' ? { kind: 'phone', e164: reference.e164, country: reference.country } : reference;
}
