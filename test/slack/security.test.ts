import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  appHarnesses,
  eventually,
  outgoingTo,
  responseTexts,
  rootsIn,
  threadReaches,
} from '../helpers/slack-app-harness.ts';
import { formBody, postSigned, slashCommand } from '../helpers/slack-requests.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const JANE = SLACK_DEFAULTS.user;
const BOB = { id: 'U0OTHER001', name: 'bob' };

/** A send that went through after the refused one: once it is Sent, the refused one had every chance to act. */
async function proveQuiet(h: AppHarness, fields: Parameters<AppHarness['command']>[1] = {}): Promise<number> {
  const witness = h.customer({ name: 'Witness Customer' });
  await h.command(`send ${witness.conversationId} Witness message`, fields);
  await threadReaches(h, fields.channel_id ?? CHANNEL, witness.conversationId, /Sent|Delivered/);
  return witness.conversationId;
}

describe('who may send: SLACK_ALLOWED_USERS and SLACK_ALLOWED_CHANNELS', () => {
  test('someone not on SLACK_ALLOWED_USERS gets a polite refusal; nothing is sent or posted', async () => {
    const h = await start({ env: { SLACK_ALLOWED_USERS: BOB.id } });
    h.slack.addUser({ id: BOB.id, name: BOB.name });
    const { conversationId } = h.customer();
    for (const text of [`send ${conversationId} Not allowed`, `note ${conversationId} Not allowed`]) {
      const answer = await h.command(text);
      expect(answer.status).toBe(200);
      expect(answer.body?.['response_type']).toBe('ephemeral');
      expect(String(answer.body?.['text'])).toMatch(/^Sorry, you are not on the list/);
      expect(String(answer.body?.['text'])).toMatch(/nothing was sent/);
    }
    // find and status are refused as well (they show customer data).
    for (const text of ['find Customer', `status ${conversationId}`]) {
      const answer = await h.command(text);
      expect(String(answer.body?.['text'])).toMatch(/^Sorry, you are not on the list/);
    }
    // help is for everyone.
    expect(String((await h.command('help')).body?.['text'])).toContain('/whatsapp send');

    // The allowed user works, in the same channel.
    const witness = await proveQuiet(h, { user_id: BOB.id, user_name: BOB.name });
    expect(outgoingTo(h, conversationId)).toEqual([]);
    expect(h.chatwoot.messages(conversationId).filter((message) => message.private)).toEqual([]);
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
    expect(outgoingTo(h, witness)).toHaveLength(1);
    expect(responseTexts(h)).toEqual([]);
  });

  test('a channel not on SLACK_ALLOWED_CHANNELS is refused; an allowed channel and the DM with the app work', async () => {
    const h = await start({ env: { SLACK_ALLOWED_CHANNELS: CHANNEL } });
    h.slack.addChannel({ id: 'C0RANDOM01', name: 'random', member: true });
    const { conversationId } = h.customer();
    const answer = await h.command(`send ${conversationId} From random`, {
      channel_id: 'C0RANDOM01',
      channel_name: 'random',
    });
    expect(answer.body?.['response_type']).toBe('ephemeral');
    expect(String(answer.body?.['text'])).toMatch(/^Sorry, WhatsApp messages can't be sent from this channel/);
    expect(String(answer.body?.['text'])).toContain(`<#${CHANNEL}>`);

    await proveQuiet(h);
    expect(outgoingTo(h, conversationId)).toEqual([]);
    expect(h.slack.messages('C0RANDOM01')).toEqual([]);

    // The user's DM with the app counts as their own place.
    const dm = h.slack.dmChannelId(JANE.id);
    const inDm = await h.command(`send ${conversationId} From the DM`, {
      channel_id: dm,
      channel_name: 'directmessage',
    });
    expect(String(inDm.body?.['text'])).toMatch(/queued/);
    await eventually(() => (outgoingTo(h, conversationId).length === 1 ? true : undefined), 'the DM send to go out');
  });

  test('a Retry click by someone not on SLACK_ALLOWED_USERS is refused and sends nothing', async () => {
    const h = await start({ env: { SLACK_ALLOWED_USERS: JANE.id, SLACK_ALERT_CHANNEL: 'C0ALERTS01' } });
    h.slack.addChannel({ id: 'C0ALERTS01', name: 'alerts', member: true });
    h.slack.addUser({ id: BOB.id, name: BOB.name });
    const { conversationId } = h.customer({ wrote: false });
    await h.command(`send ${conversationId} Closed window`);
    await threadReaches(h, CHANNEL, conversationId, /Failed/);
    const alert = await eventually(() => rootsIn(h, 'C0ALERTS01')[0], 'the alert');
    const button = (alert.blocks as Array<{ accessory?: { action_id?: string; value?: string } }>).find(
      (block) => block.accessory?.action_id === 'retry_send',
    );
    h.chatwoot.addIncomingMessage(conversationId, { content: 'I am back' });
    await h.click({
      actionId: 'retry_send',
      value: button?.accessory?.value ?? '',
      user: BOB,
      channel: { id: 'C0ALERTS01', name: 'alerts' },
      message: { ts: alert.ts, text: alert.text },
    });
    const told = await eventually(() => responseTexts(h)[0], 'the refusal');
    expect(told).toMatch(/not on the list/);
    expect(outgoingTo(h, conversationId)).toEqual([]);
    // The button is still there for someone who may use it.
    expect(rootsIn(h, 'C0ALERTS01')[0]?.edits).toEqual([]);
  });
});

describe('Slack signatures (HTTP mode)', () => {
  const post = (h: AppHarness, text: string, options: { signature?: string; stale?: boolean; contentType?: string }) =>
    postSigned(`${h.url}/slack/events`, formBody({ ...slashCommand({ text, response_url: h.slack.responseUrl() }) }), {
      secret: SLACK_DEFAULTS.signingSecret,
      ...(options.signature === undefined ? {} : { signature: options.signature }),
      ...(options.stale === true ? { timestampSeconds: Math.floor(Date.now() / 1000) - 301 } : {}),
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
    });

  test.each([
    ['a bad signature', { signature: `v0=${'0'.repeat(64)}` }, 401],
    ['a stale timestamp (301 s old)', { stale: true }, 401],
    ['a content type with a charset', { contentType: 'application/x-www-form-urlencoded; charset=utf-8' }, 400],
  ] as const)('%s is rejected and nothing is sent or posted', async (_name, options, status) => {
    const h = await start({});
    const { conversationId } = h.customer();
    const response = await post(h, `send ${conversationId} Forged`, options);
    expect(response.status).toBe(status);
    await proveQuiet(h);
    expect(outgoingTo(h, conversationId)).toEqual([]);
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
    expect(h.slack.responses()).toEqual([]);
  });

  test('a signature made with another secret is rejected', async () => {
    const h = await start({});
    const { conversationId } = h.customer();
    const response = await postSigned(
      `${h.url}/slack/events`,
      formBody({ ...slashCommand({ text: `send ${conversationId} Forged` }) }),
      { secret: 'not-the-signing-secret' },
    );
    expect(response.status).toBe(401);
    await proveQuiet(h);
    expect(outgoingTo(h, conversationId)).toEqual([]);
  });

  test('a Slack retry (x-slack-retry-num, same trigger_id) never sends twice', async () => {
    const h = await start({});
    const { conversationId } = h.customer();
    const first = await h.command(`send ${conversationId} Only once please`);
    const retry = await postSigned(`${h.url}/slack/events`, formBody({ ...first.fields }), {
      secret: SLACK_DEFAULTS.signingSecret,
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(retry.status).toBe(200);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await proveQuiet(h);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(rootsIn(h, CHANNEL)).toHaveLength(2);
  });
});

describe('health endpoints', () => {
  test('HTTP mode: /healthz 200, /readyz 200 with Slack connected', async () => {
    const h = await start({});
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, store: 'ok', slack: { mode: 'http', connected: true } });
  });

  test('Socket Mode: /readyz reports the connection', async () => {
    const h = await start({ mode: 'socket' });
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, slack: { mode: 'socket', connected: true } });
  });

  test('Socket Mode: after Slack asks the app to reconnect (disconnect warning) it reconnects and takes commands', async () => {
    const h = await start({ mode: 'socket', slackTuning: { clientPingTimeoutMs: 300 } });
    h.slack.socket.disconnect('warning');
    await h.slack.socket.waitForConnection({ total: 2, timeoutMs: 5_000 });
    await eventually(
      async () => ((await fetch(`${h.url}/readyz`)).status === 200 ? true : undefined),
      'ready again after the reconnect',
    );
    const { conversationId } = h.customer();
    await h.command(`send ${conversationId} After the reconnect`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
  });

  test('Socket Mode: while the socket is closed (waiting to reconnect), /readyz says Slack is not connected', async () => {
    // Bolt waits clientPingTimeout (5 s by default) before it reconnects: long enough to look at /readyz meanwhile.
    const h = await start({ mode: 'socket' });
    h.slack.socket.disconnect('warning');
    await eventually(() => (h.slack.socket.connected() ? undefined : true), 'the socket to close');
    const body = await eventually(
      async () => {
        const response = await fetch(`${h.url}/readyz`);
        return response.status === 503 ? ((await response.json()) as Record<string, unknown>) : undefined;
      },
      '/readyz to answer 503 while no Socket Mode connection is open',
      2_000,
    );
    expect(body).toMatchObject({ ready: false, slack: { mode: 'socket', connected: false } });
  });

  test('Socket Mode: after a dropped connection the app reconnects and takes commands again', async () => {
    const h = await start({ mode: 'socket', slackTuning: { clientPingTimeoutMs: 300 } });
    h.slack.socket.terminate();
    await h.slack.socket.waitForConnection({ total: 2, timeoutMs: 5_000 });
    await eventually(
      async () => ((await fetch(`${h.url}/readyz`)).status === 200 ? true : undefined),
      'ready again after the reconnect',
    );
    const { conversationId } = h.customer();
    await h.command(`send ${conversationId} After the drop`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
  });
});
