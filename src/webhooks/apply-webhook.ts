import type { Bridge } from '../bridge.ts';
import { MESSAGE_TYPE, type Message, messageSchema } from '../chatwoot/schemas.ts';
import { markerOf } from '../delivery/reconcile.ts';
import type { Logger } from '../shared/logger.ts';
import type { MessageEvent } from './chatwoot-webhook.ts';

/** A customer's message, as the Slack thread shows it. */
export interface CustomerMessage {
  readonly conversationId: number;
  readonly messageId: number;
  readonly senderName: string | undefined;
  readonly text: string;
  readonly attachments: ReadonlyArray<{ readonly url: string; readonly type: string | undefined }>;
}

export interface WebhookProcessorDeps {
  readonly bridge: Pick<Bridge, 'inboxes' | 'client' | 'resolver' | 'observeMessage' | 'noteWebhook'>;
  /** A customer wrote in a conversation (the Slack side posts it into the conversation's latest thread). */
  readonly onCustomerMessage?: (message: CustomerMessage) => Promise<void>;
  readonly logger: Logger;
}

const TYPE_BY_NAME: Record<string, number> = {
  incoming: MESSAGE_TYPE.incoming,
  outgoing: MESSAGE_TYPE.outgoing,
  activity: MESSAGE_TYPE.activity,
  template: MESSAGE_TYPE.template,
};

/**
 * What a webhook means for the bridge: a status change of one of our messages (applied to its send, states only
 * moving forward), or a customer's answer (the window opens again; the thread shows it). Other inboxes and messages
 * the bridge did not send are ignored.
 */
export function createWebhookProcessor(deps: WebhookProcessorDeps): (event: MessageEvent) => Promise<void> {
  const { bridge, logger } = deps;
  return async (event) => {
    bridge.noteWebhook();
    const inbox = await bridge.inboxes.whatsappInbox({ lane: 'background' });
    if (event.inbox.id !== inbox.id) return;
    const conversationId = event.conversation.id;

    if (event.message_type === 'incoming') {
      if (event.event !== 'message_created' || event.private === true) return;
      // The customer wrote: the 24-hour window is open again, so what the bridge remembers is out of date.
      await bridge.resolver.forget(conversationId);
      await deps.onCustomerMessage?.({
        conversationId,
        messageId: event.id,
        senderName: event.sender?.name ?? undefined,
        text: event.content ?? '',
        attachments: (event.attachments ?? []).flatMap((attachment) =>
          typeof attachment.data_url === 'string'
            ? [{ url: attachment.data_url, type: attachment.file_type ?? undefined }]
            : [],
        ),
      });
      return;
    }

    const attributes = event.content_attributes ?? {};
    if (markerOf({ content_attributes: attributes }) === undefined) return;
    const message = await asMessage(event);
    if (message === undefined) return;
    const record = await bridge.observeMessage(message);
    if (record !== undefined) {
      logger.debug({ sendId: record.id, messageId: event.id, state: record.state }, 'webhook applied to a send');
    }
  };

  /**
   * The webhook carries no `status` (reference §6.2): a failure shows in `external_error`; otherwise the status is the
   * conversation's last message's when that is this one, else read again from Chatwoot.
   */
  async function asMessage(event: MessageEvent): Promise<Message | undefined> {
    const attributes = event.content_attributes ?? {};
    const base = {
      id: event.id,
      conversation_id: event.conversation.id,
      content: event.content ?? null,
      message_type: TYPE_BY_NAME[event.message_type] ?? MESSAGE_TYPE.outgoing,
      source_id: event.source_id ?? null,
      private: event.private ?? false,
      created_at:
        typeof event.created_at === 'number'
          ? event.created_at
          : Math.floor(Date.parse(String(event.created_at)) / 1000) || 0,
      content_attributes: attributes,
    };
    const withStatus = (status: string): Message | undefined => {
      const parsed = messageSchema.safeParse({ ...base, status });
      return parsed.success ? parsed.data : undefined;
    };
    if (typeof attributes['external_error'] === 'string') return withStatus('failed');
    const last = event.conversation.messages?.find((candidate) => candidate.id === event.id);
    if (typeof last?.status === 'string') return withStatus(last.status);
    const [reread] = await bridge.client.listMessages(
      event.conversation.id,
      { after: event.id, before: event.id + 1 },
      { lane: 'background' },
    );
    return reread?.id === event.id ? reread : undefined;
  }
}
