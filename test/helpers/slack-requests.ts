import { createHmac, randomBytes } from 'node:crypto';
import { SLACK_DEFAULTS } from '../fakes/slack/defaults.ts';

export interface SlackSignatureHeaders {
  'x-slack-request-timestamp': string;
  'x-slack-signature': string;
}

/** Slack's v0 signature: `v0=` + hex HMAC-SHA256(secret, `v0:${ts}:${body}`) over the exact bytes sent. */
export function signSlackRequest(
  secret: string,
  body: string,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const ts = String(timestampSeconds);
  const signature = createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
  return { 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${signature}` };
}

/** The form fields of a slash command request (Bolt's `SlashCommand`), in Slack's order. */
export interface SlashCommandFields {
  token: string;
  team_id: string;
  team_domain: string;
  channel_id: string;
  channel_name: string;
  user_id: string;
  user_name: string;
  command: string;
  text: string;
  api_app_id: string;
  is_enterprise_install: string;
  response_url: string;
  trigger_id: string;
}

let seq = 0;

/** A fresh trigger id shaped like Slack's (`13345224609.738474920.8088930838d88f008e0`). */
export function triggerId(): string {
  seq += 1;
  return `${13345224609 + seq}.738474920.${randomBytes(10).toString('hex').slice(0, 19)}`;
}

function hooksUrl(kind: 'commands' | 'actions'): string {
  seq += 1;
  return `https://hooks.slack.com/${kind}/${SLACK_DEFAULTS.teamId}/${397700885554 + seq}/${randomBytes(12).toString('base64url')}`;
}

/** A full slash command with the fake's default team, user and channel; pass `response_url: fake.responseUrl()`. */
export function slashCommand(fields: Partial<SlashCommandFields> & { text: string }): SlashCommandFields {
  return {
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    team_id: SLACK_DEFAULTS.teamId,
    team_domain: SLACK_DEFAULTS.teamDomain,
    channel_id: SLACK_DEFAULTS.channel.id,
    channel_name: SLACK_DEFAULTS.channel.name,
    user_id: SLACK_DEFAULTS.user.id,
    user_name: SLACK_DEFAULTS.user.name,
    command: '/whatsapp',
    api_app_id: SLACK_DEFAULTS.appId,
    is_enterprise_install: 'false',
    response_url: hooksUrl('commands'),
    trigger_id: triggerId(),
    ...fields,
  };
}

/** The exact `application/x-www-form-urlencoded` body Slack sends. */
export function formBody(fields: Readonly<Record<string, string>>): string {
  return new URLSearchParams(fields).toString();
}

export interface BlockActionsInit {
  actionId: string;
  value?: string;
  blockId?: string;
  /** Button label. */
  label?: string;
  user?: { id: string; name: string };
  channel?: { id: string; name: string };
  /** The message holding the button; omitted for an ephemeral container (Slack sends no `message` then). */
  message?: { ts: string; text?: string; blocks?: unknown[]; user?: string };
  /** For `isEphemeral`: the ephemeral message's ts. */
  messageTs?: string;
  isEphemeral?: boolean;
  responseUrl?: string;
  triggerId?: string;
}

export interface BlockActionsPayload {
  type: 'block_actions';
  user: { id: string; username: string; name: string; team_id: string };
  api_app_id: string;
  token: string;
  container: { type: 'message'; message_ts: string; channel_id: string; is_ephemeral: boolean };
  trigger_id: string;
  team: { id: string; domain: string };
  enterprise: null;
  is_enterprise_install: boolean;
  channel: { id: string; name: string };
  message?: { type: 'message'; ts: string; text: string; blocks: unknown[]; user?: string };
  state: { values: Record<string, unknown> };
  response_url: string;
  actions: Array<{
    action_id: string;
    block_id: string;
    text: { type: 'plain_text'; text: string; emoji: boolean };
    value?: string;
    type: 'button';
    action_ts: string;
  }>;
}

/** A button click `block_actions` payload, as sent in the HTTP `payload` field or a Socket Mode `interactive` envelope. */
export function blockActions(init: BlockActionsInit): BlockActionsPayload {
  const user = init.user ?? SLACK_DEFAULTS.user;
  const channel = init.channel ?? SLACK_DEFAULTS.channel;
  const messageTs = init.message?.ts ?? init.messageTs ?? `${Math.floor(Date.now() / 1000)}.000100`;
  const actionTs = (Date.now() / 1000).toFixed(6);
  return {
    type: 'block_actions',
    user: { id: user.id, username: user.name, name: user.name, team_id: SLACK_DEFAULTS.teamId },
    api_app_id: SLACK_DEFAULTS.appId,
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    container: {
      type: 'message',
      message_ts: messageTs,
      channel_id: channel.id,
      is_ephemeral: init.isEphemeral ?? false,
    },
    trigger_id: init.triggerId ?? triggerId(),
    team: { id: SLACK_DEFAULTS.teamId, domain: SLACK_DEFAULTS.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel.id, name: channel.name },
    ...(init.isEphemeral || !init.message
      ? {}
      : {
          message: {
            type: 'message' as const,
            ts: init.message.ts,
            text: init.message.text ?? '',
            blocks: init.message.blocks ?? [],
            ...(init.message.user === undefined ? {} : { user: init.message.user }),
          },
        }),
    state: { values: {} },
    response_url: init.responseUrl ?? hooksUrl('actions'),
    actions: [
      {
        action_id: init.actionId,
        block_id: init.blockId ?? randomBytes(3).toString('base64url'),
        text: { type: 'plain_text', text: init.label ?? 'Button', emoji: true },
        ...(init.value === undefined ? {} : { value: init.value }),
        type: 'button',
        action_ts: actionTs,
      },
    ],
  };
}

/** `payload=<urlencoded JSON>`, the HTTP body of any interactive request. */
export function interactiveBody(payload: object): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface PostSignedOptions {
  secret: string;
  /** Sent exactly: Bolt only parses a form body when the type is exactly `application/x-www-form-urlencoded`. */
  contentType?: string;
  /** Signed timestamp; pass an old one (e.g. now − 301) for a stale request. */
  timestampSeconds?: number;
  /** Overrides the computed signature (negative tests). */
  signature?: string;
  headers?: Record<string, string>;
}

/** POSTs `body` as a string with an exact content type and Slack's signature headers. */
export function postSigned(url: string, body: string, options: PostSignedOptions): Promise<Response> {
  const signed = signSlackRequest(options.secret, body, options.timestampSeconds);
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
      ...signed,
      ...(options.signature === undefined ? {} : { 'x-slack-signature': options.signature }),
      ...options.headers,
    },
    body,
  });
}
