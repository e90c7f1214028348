import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import { type Bridge, SubmitError } from '../bridge.ts';
import type { Config } from '../config/load-config.ts';
import { checkPermission, ENTRY_POINTS } from './entry-points.ts';
import type { Links } from './render.ts';
import type { ThreadReporter } from './thread-reporter.ts';
import { FIND_SEND_ACTION_ID } from './whatsapp-command.ts';

export const SEND_MODAL_CALLBACK_ID = 'whatsapp_send_modal';
const SEND_MODAL_TEXT_BLOCK = 'text';
const SEND_MODAL_TEXT_ACTION = 'text';

export interface SendModalDeps {
  readonly config: Pick<Config, 'slack'>;
  readonly bridge: Pick<Bridge, 'submit'>;
  readonly reporter: ThreadReporter;
  readonly links: Links;
}

/**
 * A find result's *Send…* button: a form with the message text; its submission is a send (keyed by the view id)
 * whose thread goes to the channel the search was made in.
 */
export function registerSendModal(app: App, deps: SendModalDeps): void {
  const { config, bridge, reporter, links } = deps;
  app.action<BlockAction<ButtonAction>>(FIND_SEND_ACTION_ID, async ({ ack, body, action, client }) => {
    await ack();
    const conversationId = Number(action.value);
    const channel = body.channel?.id ?? (body.container?.['channel_id'] as string | undefined) ?? body.user.id;
    await client.views.open({
      trigger_id: body.trigger_id,
      view: {
        type: 'modal',
        callback_id: SEND_MODAL_CALLBACK_ID,
        private_metadata: JSON.stringify({ conversationId, channel, responseUrl: body.response_url }),
        title: { type: 'plain_text', text: 'WhatsApp message' },
        submit: { type: 'plain_text', text: 'Send' },
        close: { type: 'plain_text', text: 'Cancel' },
        blocks: [
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: `To conversation <${links.conversation(conversationId)}|#${conversationId}>`,
            },
          },
          {
            type: 'input',
            block_id: SEND_MODAL_TEXT_BLOCK,
            label: { type: 'plain_text', text: 'Message' },
            element: { type: 'plain_text_input', action_id: SEND_MODAL_TEXT_ACTION, multiline: true },
          },
        ],
      },
    });
  });

  app.view<ViewSubmitAction>(SEND_MODAL_CALLBACK_ID, async ({ ack, body, view }) => {
    const metadata = parseMetadata(view.private_metadata);
    const text = view.state.values[SEND_MODAL_TEXT_BLOCK]?.[SEND_MODAL_TEXT_ACTION]?.value ?? '';
    const userId = body.user.id;
    if (metadata === undefined) {
      await ack({ response_action: 'errors', errors: { [SEND_MODAL_TEXT_BLOCK]: 'This form is out of date.' } });
      return;
    }
    const permission = checkPermission(config.slack, { userId, channelId: metadata.channel });
    if (!permission.ok) {
      await ack({ response_action: 'errors', errors: { [SEND_MODAL_TEXT_BLOCK]: permission.message.slice(0, 150) } });
      return;
    }
    try {
      const { record, duplicate } = await bridge.submit({
        idempotencyKey: ENTRY_POINTS.modalSubmission.key(view),
        reference: { kind: 'id', conversationId: metadata.conversationId, looksLikePhone: false },
        // Typed into a plain text field: Slack sends it unescaped, and it is shown as mrkdwn in the thread.
        content: { kind: 'text', text: escapeForSlack(text) },
        requestedBy: { via: ENTRY_POINTS.modalSubmission.via, userId, channelId: metadata.channel },
      });
      await ack();
      if (!duplicate)
        await reporter.open(record, { channel: metadata.channel, userId, responseUrl: metadata.responseUrl });
    } catch (error) {
      const message =
        error instanceof SubmitError ? error.message : 'The message could not be stored; nothing was sent. Try again.';
      await ack({ response_action: 'errors', errors: { [SEND_MODAL_TEXT_BLOCK]: message.slice(0, 150) } });
    }
  });
}

function parseMetadata(raw: string): { conversationId: number; channel: string; responseUrl?: string } | undefined {
  try {
    const value = JSON.parse(raw) as { conversationId?: unknown; channel?: unknown; responseUrl?: unknown };
    if (typeof value.conversationId !== 'number' || typeof value.channel !== 'string') return undefined;
    return {
      conversationId: value.conversationId,
      channel: value.channel,
      ...(typeof value.responseUrl === 'string' ? { responseUrl: value.responseUrl } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Text from a plain input arrives unescaped; the core reads Slack's escaped form. */
function escapeForSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
