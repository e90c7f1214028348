import type Keyv from 'keyv';
import { z } from 'zod';
import type { ChatwootClient } from '../chatwoot/client.ts';
import { MESSAGE_TYPE } from '../chatwoot/schemas.ts';
import type { ConversationResolver } from '../conversations/resolve-conversation.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { iterateNamespace } from '../store/open-store.ts';
import type { ThreadReporter } from './thread-reporter.ts';

const watchSchema = z.object({ after: z.number(), since: z.number() });

export interface ReplyPollerOptions {
  readonly client: Pick<ChatwootClient, 'listMessages'>;
  readonly resolver: Pick<ConversationResolver, 'forget'>;
  readonly reporter: Pick<ThreadReporter, 'postCustomerMessage'>;
  /** Conversation id → the last message id looked at, and since when it is watched; survives restarts. */
  readonly watches: Keyv<unknown>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly webhooksHealthy: () => boolean;
  /** Between two looks at the watched conversations (default 60 s; five times longer while webhooks arrive). */
  readonly intervalMs?: number;
  /** A conversation is watched this long after the bridge last sent to it (default 24 h). */
  readonly horizonMs?: number;
}

export interface ReplyPoller {
  /** The bridge sent message `messageId` to the conversation: look for the customer's answers after it. */
  watch(conversationId: number, messageId: number): void;
  start(): Promise<void>;
  stop(): void;
  /** One look now (tests). */
  pollOnce(): Promise<void>;
}

/**
 * Customers' answers without a webhook (or when one was missed: Chatwoot never re-sends): conversations the bridge
 * sent to recently are read for new incoming messages, in the background lane, and each answer is posted in the
 * conversation's latest thread once (the same message from a webhook is recognised).
 */
export function createReplyPoller(options: ReplyPollerOptions): ReplyPoller {
  const { client, resolver, reporter, watches, clock, logger } = options;
  const intervalMs = options.intervalMs ?? 60_000;
  const horizonMs = options.horizonMs ?? 24 * 60 * 60_000;
  const watched = new Map<number, z.infer<typeof watchSchema>>();
  let stopped = false;
  let sleeping: AbortController | undefined;

  const pollConversation = async (conversationId: number, watch: z.infer<typeof watchSchema>): Promise<void> => {
    const messages = await client.listMessages(conversationId, { after: watch.after }, { lane: 'background' });
    let after = watch.after;
    let answered = false;
    for (const message of [...messages].sort((a, b) => a.id - b.id)) {
      after = Math.max(after, message.id);
      if (message.message_type !== MESSAGE_TYPE.incoming || message.private) continue;
      answered = true;
      await reporter.postCustomerMessage({
        conversationId,
        messageId: message.id,
        senderName: message.sender?.name ?? undefined,
        text: message.content ?? '',
        attachments: (message.attachments ?? []).flatMap((attachment) =>
          typeof attachment.data_url === 'string'
            ? [{ url: attachment.data_url, type: attachment.file_type ?? undefined }]
            : [],
        ),
      });
    }
    // The customer wrote: the 24-hour window is open again.
    if (answered) await resolver.forget(conversationId);
    if (after !== watch.after) {
      const next = { ...watch, after };
      watched.set(conversationId, next);
      await watches.set(String(conversationId), next, horizonMs);
    }
  };

  const pollOnce = async (): Promise<void> => {
    const now = clock.now();
    for (const [conversationId, watch] of [...watched]) {
      if (stopped) return;
      if (now - watch.since > horizonMs) {
        watched.delete(conversationId);
        await watches.delete(String(conversationId)).catch(() => undefined);
        continue;
      }
      await pollConversation(conversationId, watch).catch((error: unknown) =>
        logger.warn({ err: error, conversationId }, 'could not look for the customer’s answers'),
      );
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      sleeping = new AbortController();
      const wait = intervalMs * (options.webhooksHealthy() ? 5 : 1);
      await clock.sleep(wait, sleeping.signal).catch(() => undefined);
      if (stopped) return;
      await pollOnce();
    }
  };

  return {
    watch: (conversationId, messageId) => {
      const current = watched.get(conversationId);
      if (current !== undefined && current.after >= messageId && clock.now() - current.since < 60_000) return;
      if (current !== undefined && current.after >= messageId) {
        const renewed = { ...current, since: clock.now() };
        watched.set(conversationId, renewed);
        void watches.set(String(conversationId), renewed, horizonMs).catch(() => undefined);
        return;
      }
      const next = { after: Math.max(messageId, current?.after ?? 0), since: clock.now() };
      watched.set(conversationId, next);
      void watches
        .set(String(conversationId), next, horizonMs)
        .catch((error: unknown) => logger.warn({ err: error, conversationId }, 'could not store a reply watch'));
    },
    start: async () => {
      for await (const [key, raw] of iterateNamespace(watches)) {
        const parsed = watchSchema.safeParse(raw);
        const conversationId = Number(key);
        if (parsed.success && Number.isSafeInteger(conversationId)) watched.set(conversationId, parsed.data);
      }
      void loop();
    },
    stop: () => {
      stopped = true;
      sleeping?.abort();
    },
    pollOnce,
  };
}
