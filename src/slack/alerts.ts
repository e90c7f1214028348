import type Keyv from 'keyv';
import { z } from 'zod';
import { describeRecipient } from '../delivery/describe-send.ts';
import type { SendRecord } from '../delivery/send-record.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { iterateNamespace } from '../store/open-store.ts';
import { escapeMrkdwn, type Links } from './render.ts';
import type { SlackMessage, SlackPoster } from './slack-poster.ts';
import type { ThreadEntry } from './thread-reporter.ts';

export const RETRY_ACTION_ID = 'retry_send';

const alertItemSchema = z.object({
  sendId: z.string(),
  /** 'Jane Doe (+44 •••• ••0958) in conversation #57' */
  recipient: z.string(),
  conversationId: z.number().optional(),
  requestedBy: z.string().optional(),
  code: z.string(),
  reason: z.string(),
  threadLink: z.string().optional(),
  retriedBy: z.string().optional(),
  retriedAt: z.number().optional(),
});
export type AlertItem = z.infer<typeof alertItemSchema>;

export const alertSchema = z.object({
  channel: z.string(),
  ts: z.string(),
  items: z.array(alertItemSchema),
  createdAt: z.number(),
});
export type Alert = z.infer<typeof alertSchema>;

/** Failures listed one by one in a grouped alert (each with its own Retry button); Slack allows 50 blocks. */
export const MAX_LISTED = 20;
const ALERT_TTL_MS = 30 * 24 * 60 * 60_000;

export interface AlerterOptions {
  readonly poster: SlackPoster;
  /** Failures waiting for their group window, by send id: posted at the next start if the process stops first. */
  readonly queue: Keyv<AlertItem>;
  /** SLACK_ALERT_CHANNEL; without it the thread alone reports failures. */
  readonly channel: string | undefined;
  readonly alerts: Keyv<Alert>;
  readonly links: Links;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Failures within this long of the first one share one alert (default 5 s): Chatwoot down is one alert, not fifty. */
  readonly groupWindowMs?: number;
}

export type ClaimResult =
  | { readonly ok: true; readonly alert: Alert; readonly item: AlertItem }
  | { readonly ok: false; readonly reason: 'already_retried'; readonly by: string | undefined }
  | { readonly ok: false; readonly reason: 'unknown' };

export interface Alerter {
  /** A send finally failed: alert (grouped with others failing at about the same time). */
  failed(record: SendRecord, thread: ThreadEntry): void;
  /** The first click on a Retry button wins; the alert then shows who retried instead of the button. */
  claim(alertTs: string, sendId: string, userId: string): Promise<ClaimResult>;
  /** Gives a claim back (the retry could not be started), so the button returns. */
  release(alertTs: string, sendId: string): Promise<void>;
  /** Posts what waits for its group window now (shutdown). */
  flushNow(): Promise<void>;
  /** After a restart: posts failures whose alert the last run had not posted yet; returns how many. */
  resume(): Promise<number>;
  idle(): Promise<void>;
  stop(): void;
}

export function createAlerter(options: AlerterOptions): Alerter {
  const { poster, alerts, queue, links, clock, logger } = options;
  const groupWindowMs = options.groupWindowMs ?? 5_000;
  let pending: AlertItem[] = [];
  let scheduled: AbortController | undefined;
  let stopped = false;
  /** Claims run one at a time, so two clicks cannot both win (one process holds the store lease). */
  let claims: Promise<unknown> = Promise.resolve();
  const work = new Set<Promise<unknown>>();

  const track = <T>(promise: Promise<T>): Promise<T> => {
    work.add(promise);
    void promise.finally(() => work.delete(promise)).catch(() => undefined);
    return promise;
  };

  const flush = async (): Promise<void> => {
    const channel = options.channel;
    const items = pending;
    pending = [];
    scheduled?.abort();
    scheduled = undefined;
    if (channel === undefined || items.length === 0 || stopped) return;
    const createdAt = clock.now();
    let shown: Alert = { channel, ts: '', items, createdAt };
    try {
      const at = await poster.post(channel, () => renderAlert(shown));
      shown = { ...shown, channel: at.channel, ts: at.ts };
      await alerts.set(at.ts, shown, ALERT_TTL_MS);
      await Promise.all(items.map((item) => queue.delete(item.sendId)));
      logger.info({ alertTs: at.ts, failures: items.length }, 'posted a failure alert');
    } catch (error) {
      logger.error(
        { err: error, channel, failures: items.length },
        'could not post the failure alert (is the bot in SLACK_ALERT_CHANNEL?)',
      );
    }
  };

  const update = async (alert: Alert): Promise<void> => {
    await alerts.set(alert.ts, alert, ALERT_TTL_MS);
    await track(poster.update(alert.channel, alert.ts, () => renderAlert(alert))).catch((error: unknown) =>
      logger.warn({ err: error, alertTs: alert.ts }, 'could not update the failure alert'),
    );
  };

  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const next = claims.then(task, task);
    claims = next.catch(() => undefined);
    return next;
  };

  return {
    failed: (record, thread) => {
      if (options.channel === undefined || stopped) return;
      const failure = record.failure;
      const item: AlertItem = {
        sendId: record.id,
        recipient: describeRecipient(record),
        ...(record.conversation === undefined ? {} : { conversationId: record.conversation.id }),
        ...(record.requestedBy.userId === undefined ? {} : { requestedBy: record.requestedBy.userId }),
        code: failure?.code ?? 'failed',
        reason: [failure?.message, failure?.advice].filter(Boolean).join(' ') || 'The send failed.',
        ...threadLink(links, thread),
      };
      pending.push(item);
      void track(
        queue
          .set(item.sendId, item, ALERT_TTL_MS)
          .catch((error: unknown) =>
            logger.warn({ err: error, sendId: item.sendId }, 'could not store a pending alert'),
          ),
      );
      if (scheduled === undefined) {
        const controller = new AbortController();
        scheduled = controller;
        void track(
          clock
            .sleep(groupWindowMs, controller.signal)
            .then(flush)
            .catch(() => undefined),
        );
      }
    },
    flushNow: async () => {
      if (pending.length > 0) await track(flush());
      while (work.size > 0) await Promise.all([...work]);
    },
    resume: async () => {
      if (options.channel === undefined) return 0;
      const known = new Set(pending.map((item) => item.sendId));
      let count = 0;
      for await (const [sendId, raw] of iterateNamespace(queue)) {
        const parsed = alertItemSchema.safeParse(raw);
        if (!parsed.success || known.has(sendId)) continue;
        pending.push(parsed.data);
        count += 1;
      }
      if (count > 0) await track(flush());
      return count;
    },
    claim: (alertTs, sendId, userId) =>
      serial(async (): Promise<ClaimResult> => {
        const parsed = alertSchema.safeParse(await alerts.get(alertTs));
        if (!parsed.success) return { ok: false, reason: 'unknown' };
        const alert = parsed.data;
        const item = alert.items.find((candidate) => candidate.sendId === sendId);
        if (item === undefined) return { ok: false, reason: 'unknown' };
        if (item.retriedBy !== undefined) return { ok: false, reason: 'already_retried', by: item.retriedBy };
        const claimed = { ...item, retriedBy: userId, retriedAt: clock.now() };
        const next = { ...alert, items: alert.items.map((candidate) => (candidate === item ? claimed : candidate)) };
        await update(next);
        return { ok: true, alert: next, item: claimed };
      }),
    release: (alertTs, sendId) =>
      serial(async () => {
        const parsed = alertSchema.safeParse(await alerts.get(alertTs));
        if (!parsed.success) return;
        const next = {
          ...parsed.data,
          items: parsed.data.items.map((item) => {
            if (item.sendId !== sendId) return item;
            const { retriedBy: _by, retriedAt: _at, ...rest } = item;
            return rest;
          }),
        };
        await update(next);
      }),
    idle: async () => {
      while (work.size > 0) await Promise.all([...work]);
    },
    stop: () => {
      stopped = true;
    },
  };
}

function threadLink(links: Links, thread: ThreadEntry): { threadLink?: string } {
  if (thread.rootTs === undefined) return {};
  const link = links.message(
    thread.channel,
    thread.statusTs ?? thread.rootTs,
    thread.statusTs === undefined ? undefined : thread.rootTs,
  );
  return link === undefined ? {} : { threadLink: link };
}

/** One failure: who, to whom, why, the thread, and a Retry button (or who retried). Several: one list. */
export function renderAlert(alert: Alert): SlackMessage {
  const items = alert.items;
  const blocks: unknown[] = [];
  const single = items.length === 1;
  const codes = new Set(items.map((item) => item.code));
  const headline = single
    ? ':rotating_light: *A WhatsApp message failed*'
    : `:rotating_light: *${items.length} WhatsApp messages failed*${codes.size === 1 ? ` for the same reason: ${escapeMrkdwn(items[0]?.reason ?? '')}` : ''}`;
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: headline.slice(0, 3000) } });
  for (const item of items.slice(0, MAX_LISTED)) {
    const who = item.requestedBy === undefined ? '' : ` · sent by <@${item.requestedBy}>`;
    const thread = item.threadLink === undefined ? '' : ` · <${item.threadLink}|thread>`;
    const why = single || codes.size > 1 ? `\n*Why:* ${escapeMrkdwn(item.reason)}` : '';
    const text = `*To:* ${escapeMrkdwn(item.recipient)}${who}${thread}${why}`.slice(0, 3000);
    blocks.push(
      item.retriedBy === undefined
        ? {
            type: 'section',
            block_id: `alert:${item.sendId}`,
            text: { type: 'mrkdwn', text },
            accessory: {
              type: 'button',
              action_id: RETRY_ACTION_ID,
              value: item.sendId,
              text: { type: 'plain_text', text: 'Retry' },
            },
          }
        : { type: 'section', block_id: `alert:${item.sendId}`, text: { type: 'mrkdwn', text } },
    );
    if (item.retriedBy !== undefined) {
      blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `:repeat: Retried by <@${item.retriedBy}>; the result is in the thread.` }],
      });
    }
  }
  if (items.length > MAX_LISTED) {
    blocks.push({
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: `…and ${items.length - MAX_LISTED} more: each one's thread says what happened.` },
      ],
    });
  }
  const text = single
    ? `A WhatsApp message to ${items[0]?.recipient ?? 'a customer'} failed: ${items[0]?.reason ?? ''}`
    : `${items.length} WhatsApp messages failed.`;
  return { text, blocks: blocks.slice(0, 50) };
}
