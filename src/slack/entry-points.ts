import type { SlackConfig } from '../config/load-config.ts';

/**
 * Every way into the bridge from Slack, in one table: the idempotency key that makes a repeated request harmless
 * (Slack retries, double clicks, re-submits), and the channel the permission check is made against. A new way in
 * (a modal submission, a thread reply) adds a row here rather than its own rules.
 *
 * | Way in              | via                 | Idempotency key                                  | Permission check                         |
 * |---------------------|---------------------|--------------------------------------------------|------------------------------------------|
 * | Slash command       | `slack_command`     | its `trigger_id`                                 | the user, and the channel it was used in |
 * | Button (Retry, …)   | `slack_button`      | the action's message ts, action id and value; claimed once: the first click wins | the user, and the channel of the thread the result goes to |
 * | Modal submission    | `slack_modal`       | the view id                                      | the user, and the channel the result goes to |
 * | Thread reply        | `slack_thread_reply`| the channel and the message ts                   | the user, and the thread's channel       |
 */
export const ENTRY_POINTS = {
  slashCommand: {
    via: 'slack_command',
    key: (command: { trigger_id: string }) => `slack:command:${command.trigger_id}`,
  },
  button: {
    via: 'slack_button',
    key: (action: { messageTs: string; actionId: string; value: string }) =>
      `slack:action:${action.messageTs}:${action.actionId}:${action.value}`,
  },
  modalSubmission: {
    via: 'slack_modal',
    key: (view: { id: string }) => `slack:view:${view.id}`,
  },
  threadReply: {
    via: 'slack_thread_reply',
    key: (message: { channel: string; ts: string }) => `slack:message:${message.channel}:${message.ts}`,
  },
} as const;

export type EntryPoint = keyof typeof ENTRY_POINTS;

export type Permission =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'user' | 'channel'; readonly message: string };

/**
 * `SLACK_ALLOWED_USERS` and `SLACK_ALLOWED_CHANNELS`: empty means everyone, everywhere. A direct message with the app
 * counts as the user's own place: it is allowed whenever the user is (a channel list cannot name every DM).
 */
export function checkPermission(
  slack: Pick<SlackConfig, 'allowedUsers' | 'allowedChannels'>,
  who: { readonly userId: string; readonly channelId?: string | undefined },
): Permission {
  if (slack.allowedUsers.length > 0 && !slack.allowedUsers.includes(who.userId)) {
    return {
      ok: false,
      reason: 'user',
      message:
        'Sorry, you are not on the list of people who may send WhatsApp messages from Slack, so nothing was sent. Ask your Slack admin to add you to SLACK_ALLOWED_USERS.',
    };
  }
  const channel = who.channelId;
  if (
    slack.allowedChannels.length > 0 &&
    channel !== undefined &&
    !channel.startsWith('D') &&
    !slack.allowedChannels.includes(channel)
  ) {
    return {
      ok: false,
      reason: 'channel',
      message: `Sorry, WhatsApp messages can't be sent from this channel, so nothing was sent. Use one of: ${slack.allowedChannels
        .map((id) => `<#${id}>`)
        .join(', ')} (or ask your Slack admin to add this channel to SLACK_ALLOWED_CHANNELS).`,
    };
  }
  return { ok: true };
}
