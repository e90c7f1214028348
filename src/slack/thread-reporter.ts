import type Keyv from 'keyv';
import { z } from 'zod';
import type { Bridge } from '../bridge.ts';
import { isFinal, type SendRecord, sendingDone } from '../delivery/send-record.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { iterateNamespace } from '../store/open-store.ts';
import type { CustomerMessage } from '../webhooks/apply-webhook.ts';
import { customerMessage, type Links, rootMessage, statusMessage } from './render.ts';
import { SlackCallError } from './slack-call.ts';
import type { SlackMessage, SlackPoster } from './slack-poster.ts';

/** Where one send is reported, stored so a restart keeps editing the same messages. */
export const threadEntrySchema = z.object({
  sendId: z.string(),
  /** The channel the thread lives in: where the command was used, or the user's DM with the app. */
  channel: z.string(),
  /** The user who asked; their DM with the app is the fallback. */
  userId: z.string(),
  responseUrl: z.string().optional(),
  rootTs: z.string().optional(),
  statusTs: z.string().optional(),
  /** The thread already existed (a retry reports into the original send's thread). */
  reusedRoot: z.boolean().optional(),
  /** Shown before the state, e.g. 'Retry by <@U…>: '. */
  prefix: z.string().optional(),
  /** The channel the bot could not post in, and Slack's reason. */
  movedFrom: z.object({ channel: z.string(), reason: z.string() }).optional(),
  /** Text of the status reply and root as last posted, so nothing is edited twice with the same words. */
  rendered: z.string().optional(),
  rootRendered: z.string().optional(),
  alerted: z.boolean().optional(),
  /** Posting into Slack failed for good (e.g. the bot was removed from the workspace). */
  gaveUp: z.string().optional(),
  createdAt: z.number(),
});
export type ThreadEntry = z.infer<typeof threadEntrySchema>;

/** Threads are kept as long as send records are. */
const THREAD_TTL_MS = 30 * 24 * 60 * 60_000;

/** Errors after which the thread moves to the user's DM with the app. */
const CANNOT_POST_HERE = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action']);

export interface ThreadPlace {
  readonly channel: string;
  readonly userId: string;
  readonly responseUrl?: string | undefined;
}

/** A conversation's latest thread: where the customer's answers are posted. */
export const conversationThreadSchema = z.object({
  channel: z.string(),
  rootTs: z.string(),
  sendId: z.string(),
  at: z.number(),
});
export type ConversationThread = z.infer<typeof conversationThreadSchema>;

export interface ThreadReporterOptions {
  readonly bridge: Pick<Bridge, 'get' | 'onChange'>;
  readonly poster: SlackPoster;
  readonly threads: Keyv<ThreadEntry>;
  /** Conversation id → its latest thread (and `seen:<message id>` for customer messages already posted). */
  readonly conversations: Keyv<unknown>;
  readonly links: Links;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Posts to a command's response_url (ephemeral, only the user sees it). */
  readonly respond: (responseUrl: string, message: SlackMessage & { response_type?: 'ephemeral' }) => Promise<void>;
  /** A send that finally failed, once per send, after its thread shows it. */
  readonly onFailed?: (record: SendRecord, entry: ThreadEntry) => void;
}

export interface ThreadReporter {
  /** Starts the thread of a new send (root message, then its status reply); idempotent per send. */
  open(record: SendRecord, place: ThreadPlace): Promise<ThreadEntry>;
  /** Reports a retry into the original send's thread: a new status reply under the same root. */
  openInThread(record: SendRecord, original: ThreadEntry, prefix: string): Promise<ThreadEntry>;
  /**
   * Reports under a message that is not ours (the "Send to WhatsApp" message shortcut): the status reply goes in that
   * message's thread; where the bot cannot post there, the thread moves to the user's DM as usual.
   */
  openUnder(
    record: SendRecord,
    place: ThreadPlace & { readonly threadTs: string },
    prefix: string,
  ): Promise<ThreadEntry>;
  get(sendId: string): Promise<ThreadEntry | undefined>;
  /** Posts a customer's message into the latest thread of its conversation (once per message); false when none. */
  postCustomerMessage(message: CustomerMessage): Promise<boolean>;
  /** The latest thread of a conversation, if the bridge has one. */
  threadOf(conversationId: number): Promise<ConversationThread | undefined>;
  /** The conversation a Slack thread reports on (any of its threads, not only the latest). */
  conversationOfThread(channel: string, threadTs: string): Promise<number | undefined>;
  /** After a restart: brings every thread whose last post does not show its send's latest state up to date. */
  resume(): Promise<number>;
  /** Resolves when every thread shows what is known now (tests, shutdown). */
  idle(): Promise<void>;
  stop(): void;
}

/**
 * Keeps each send's Slack thread truthful: one root message saying who sent what to whom, and one status reply
 * edited in place as the send moves. Syncs are serialised per send and always render the latest record, so
 * updates that pile up while Slack is slow collapse into one edit. Nothing here can block or fail a send.
 */
export function createThreadReporter(options: ThreadReporterOptions): ThreadReporter {
  const { bridge, poster, threads, links, clock, logger } = options;
  const entries = new Map<string, ThreadEntry>();
  const latest = new Map<string, SendRecord>();
  const running = new Map<string, Promise<void>>();
  const dirty = new Set<string>();
  let stopped = false;

  const unsubscribe = bridge.onChange((record, previous) => {
    if (previous === undefined && !entries.has(record.id)) return; // Just created: open() follows with its thread.
    // Synchronously, so the latest record always wins; the thread entry itself may need a store read.
    latest.set(record.id, record);
    if (entries.has(record.id) || running.has(record.id)) {
      // Answers must find this thread as soon as it is in Slack, not after edits queued behind Slack's pace.
      void noteLatest(record.id);
      void schedule(record.id);
      return;
    }
    load(record.id).then(
      (entry) => {
        if (entry === undefined) latest.delete(record.id);
        else void schedule(record.id);
      },
      (error: unknown) => logger.error({ err: error, sendId: record.id }, 'could not read the send’s Slack thread'),
    );
  });

  const save = async (entry: ThreadEntry): Promise<ThreadEntry> => {
    entries.set(entry.sendId, entry);
    await threads.set(entry.sendId, entry, THREAD_TTL_MS);
    return entry;
  };

  const current = async (sendId: string): Promise<SendRecord | undefined> => {
    const known = latest.get(sendId);
    if (known !== undefined) return known;
    const stored = await bridge.get(sendId);
    if (stored !== undefined) latest.set(sendId, stored);
    return stored;
  };

  /** Runs a sync for the send now, or once more after the running one (which may have rendered stale data). */
  const schedule = (sendId: string): Promise<void> => {
    const active = running.get(sendId);
    if (active !== undefined) {
      dirty.add(sendId);
      return active;
    }
    const run = (async () => {
      do {
        dirty.delete(sendId);
        if (stopped) return;
        try {
          await sync(sendId);
        } catch (error) {
          logger.error({ err: error, sendId }, 'could not update the Slack thread');
        }
        await noteLatest(sendId);
        // A failure is alerted even when its thread could not be posted (the alert is then the only report).
        await alertIfFailed(sendId).catch((error: unknown) =>
          logger.error({ err: error, sendId }, 'could not raise the failure alert'),
        );
      } while (dirty.has(sendId));
    })().finally(() => {
      running.delete(sendId);
      // Memory holds only threads being synced: the next change of the send reads its entry from the store again.
      entries.delete(sendId);
      latest.delete(sendId);
    });
    running.set(sendId, run);
    return run;
  };

  const sync = async (sendId: string): Promise<void> => {
    let entry = entries.get(sendId);
    const record = await current(sendId);
    if (entry === undefined || record === undefined || entry.gaveUp !== undefined) return;
    const render = () => latest.get(sendId) ?? record;

    if (entry.rootTs === undefined) {
      let posted = '';
      try {
        const at = await poster.post(
          entry.channel,
          () => {
            const message = rootFor(entry, render());
            posted = message.text;
            return message;
          },
          { priority: 1 },
        );
        entry = await save({ ...entry, channel: at.channel, rootTs: at.ts, rootRendered: posted });
        await noteLatest(sendId);
      } catch (error) {
        entry = await cannotPost(entry, error);
        if (entry.gaveUp === undefined) dirty.add(sendId);
        return;
      }
    }
    const rootTs = entry.rootTs;
    if (rootTs === undefined) return;

    if (entry.statusTs === undefined) {
      let posted = '';
      let at: { channel: string; ts: string };
      try {
        at = await poster.post(
          entry.channel,
          () => {
            const message = statusMessage(render(), clock.now(), entry?.prefix);
            posted = message.text;
            return { ...message, thread_ts: rootTs };
          },
          { priority: 1 },
        );
      } catch (error) {
        if (entry.reusedRoot !== true) throw error;
        // Under someone else's message in a channel the bot cannot post in: start a thread of our own instead.
        const { rootTs: _root, reusedRoot: _reused, ...rest } = entry;
        entry = await cannotPost(rest, error);
        if (entry.gaveUp === undefined) dirty.add(sendId);
        return;
      }
      entry = await save({ ...entry, statusTs: at.ts, rendered: posted });
    } else if (statusMessage(render(), clock.now(), entry.prefix).text !== entry.rendered) {
      let posted = '';
      const statusTs = entry.statusTs;
      await poster.update(entry.channel, statusTs, () => {
        const message = statusMessage(render(), clock.now(), entry?.prefix);
        posted = message.text;
        return message;
      });
      entry = await save({ ...entry, rendered: posted });
    }

    // The root names the contact once the conversation is known.
    if (entry.reusedRoot !== true && rootFor(entry, render()).text !== entry.rootRendered) {
      let posted = '';
      await poster.update(entry.channel, rootTs, () => {
        const message = rootFor(entry, render());
        posted = message.text;
        return message;
      });
      entry = await save({ ...entry, rootRendered: posted });
    }
  };

  /** The root; in the user's DM it also says which channel the bot could not post in, and what to do. */
  const rootFor = (entry: ThreadEntry | undefined, record: SendRecord): SlackMessage => {
    const message = rootMessage(record, links);
    const moved = entry?.movedFrom;
    if (moved === undefined || moved.channel.startsWith('D')) return message;
    const note = `_I could not post this in <#${moved.channel}> (\`${moved.reason}\`), so its thread is here. To get threads in the channel, invite me there: \`/invite @whatsapp-bridge\`._`;
    return {
      ...message,
      text: `${message.text}\n${note}`,
      blocks: [...(message.blocks ?? []), { type: 'context', elements: [{ type: 'mrkdwn', text: note }] }],
    };
  };

  /** The conversation's latest thread is this send's (the customer's answer belongs where the person asked). */
  const noteConversationThread = async (entry: ThreadEntry, record: SendRecord): Promise<void> => {
    const conversationId = record.conversation?.id;
    if (conversationId === undefined || entry.rootTs === undefined) return;
    const key = String(conversationId);
    // The other way round too: a reply typed in this thread belongs to this conversation.
    const reverse = `thread:${entry.channel}:${entry.rootTs}`;
    if ((await options.conversations.get(reverse)) !== conversationId) {
      await options.conversations.set(reverse, conversationId, THREAD_TTL_MS);
    }
    const current = conversationThreadSchema.safeParse(await options.conversations.get(key));
    if (current.success && (current.data.rootTs === entry.rootTs || current.data.at > entry.createdAt)) return;
    await options.conversations.set(
      key,
      { channel: entry.channel, rootTs: entry.rootTs, sendId: entry.sendId, at: entry.createdAt },
      THREAD_TTL_MS,
    );
  };

  /** Remembers the send's thread as its conversation's latest, once both are known; never fails a sync. */
  const noteLatest = async (sendId: string): Promise<void> => {
    const entry = entries.get(sendId);
    const record = latest.get(sendId);
    if (entry === undefined || record === undefined) return;
    await noteConversationThread(entry, record).catch((error: unknown) =>
      logger.warn({ err: error, sendId }, 'could not remember the conversation’s thread'),
    );
  };

  const alertIfFailed = async (sendId: string): Promise<void> => {
    const entry = entries.get(sendId);
    const record = latest.get(sendId);
    if (entry === undefined || record === undefined || record.state !== 'failed' || entry.alerted === true) return;
    const alerted = await save({ ...entry, alerted: true });
    options.onFailed?.(record, alerted);
  };

  /** The bot cannot post where the command was used: tell the user at once, and move the thread to their DM. */
  const cannotPost = async (entry: ThreadEntry, error: unknown): Promise<ThreadEntry> => {
    const code = error instanceof SlackCallError ? error.code : 'unknown_error';
    if (!CANNOT_POST_HERE.has(code) || entry.movedFrom !== undefined) {
      logger.error({ err: error, sendId: entry.sendId, channel: entry.channel }, 'cannot post the send’s thread');
      return save({ ...entry, gaveUp: code });
    }
    logger.warn(
      { sendId: entry.sendId, channel: entry.channel, reason: code },
      'cannot post in the channel; the thread moves to the user’s DM with the app',
    );
    if (entry.responseUrl !== undefined) {
      const where = entry.channel.startsWith('D')
        ? 'Slack does not let apps post in direct messages between people'
        : code === 'not_in_channel' || code === 'channel_not_found'
          ? `I can't post in <#${entry.channel}> (\`${code}\`). To get results here next time, invite me: type \`/invite @whatsapp-bridge\` in the channel`
          : `I can't post in <#${entry.channel}> (\`${code}\`)`;
      await options
        .respond(entry.responseUrl, {
          response_type: 'ephemeral',
          text: `${where}. Your message is being sent anyway; its thread, with what happens to it, is in your DM with the app.`,
        })
        .catch((respondError: unknown) =>
          logger.warn({ err: respondError, sendId: entry.sendId }, 'could not answer through response_url'),
        );
    }
    return save({ ...entry, channel: entry.userId, movedFrom: { channel: entry.channel, reason: code } });
  };

  return {
    open: (record, place) =>
      begin(record, {
        channel: place.channel,
        userId: place.userId,
        ...(place.responseUrl === undefined ? {} : { responseUrl: place.responseUrl }),
      }),
    openInThread: (record, original, prefix) =>
      begin(record, {
        channel: original.channel,
        userId: original.userId,
        ...(original.rootTs === undefined ? {} : { rootTs: original.rootTs, reusedRoot: true }),
        prefix,
      }),
    openUnder: (record, place, prefix) =>
      begin(record, {
        channel: place.channel,
        userId: place.userId,
        ...(place.responseUrl === undefined ? {} : { responseUrl: place.responseUrl }),
        rootTs: place.threadTs,
        reusedRoot: true,
        prefix,
      }),
    get: async (sendId) => entries.get(sendId) ?? (await load(sendId)),
    conversationOfThread: async (channel, threadTs) => {
      const value = await options.conversations.get(`thread:${channel}:${threadTs}`);
      return typeof value === 'number' ? value : undefined;
    },
    threadOf: async (conversationId) => {
      const parsed = conversationThreadSchema.safeParse(await options.conversations.get(String(conversationId)));
      return parsed.success ? parsed.data : undefined;
    },
    postCustomerMessage: async (message) => {
      const parsed = conversationThreadSchema.safeParse(
        await options.conversations.get(String(message.conversationId)),
      );
      if (!parsed.success) return false;
      const seenKey = `seen:${message.messageId}`;
      if ((await options.conversations.get(seenKey)) !== undefined) return true;
      await options.conversations.set(seenKey, clock.now(), THREAD_TTL_MS);
      const thread = parsed.data;
      await poster
        .post(thread.channel, () => customerMessage(message, thread.rootTs))
        .catch(async (error: unknown) => {
          await options.conversations.delete(seenKey);
          throw error;
        });
      logger.info(
        { conversationId: message.conversationId, messageId: message.messageId, channel: thread.channel },
        'posted the customer’s answer in the thread',
      );
      return true;
    },
    resume: async () => {
      let count = 0;
      for await (const [sendId, raw] of iterateNamespace(threads)) {
        const parsed = threadEntrySchema.safeParse(raw);
        if (!parsed.success) continue;
        const record = await bridge.get(sendId);
        if (record === undefined) continue;
        const entry = parsed.data;
        const shown = entry.rendered === statusMessage(record, clock.now(), entry.prefix).text;
        const settled = shown || entry.gaveUp !== undefined;
        if (settled && (isFinal(record) || sendingDone(record)) && (record.state !== 'failed' || entry.alerted))
          continue;
        entries.set(sendId, entry);
        latest.set(sendId, record);
        void schedule(sendId);
        count += 1;
      }
      return count;
    },
    idle: async () => {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
    stop: () => {
      stopped = true;
      unsubscribe();
    },
  };

  /** Stores the send's thread (once: a repeat returns the first) and starts showing it. */
  async function begin(record: SendRecord, where: Omit<ThreadEntry, 'sendId' | 'createdAt'>): Promise<ThreadEntry> {
    const existing = entries.get(record.id) ?? (await load(record.id));
    if (existing !== undefined) return existing;
    const entry = await save({ sendId: record.id, ...where, createdAt: clock.now() });
    latest.set(record.id, (await bridge.get(record.id)) ?? record);
    void schedule(record.id);
    return entry;
  }

  async function load(sendId: string): Promise<ThreadEntry | undefined> {
    const parsed = threadEntrySchema.safeParse(await threads.get(sendId));
    if (!parsed.success) return undefined;
    entries.set(sendId, parsed.data);
    return parsed.data;
  }
}
