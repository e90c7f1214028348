import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  appHarnesses,
  eventually,
  outgoingTo,
  responseTexts,
  rootsIn,
  threadFor,
  threadReaches,
} from '../helpers/slack-app-harness.ts';
import { formBody, postSigned, slashCommand } from '../helpers/slack-requests.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;

/** Once a later send is Sent, an earlier duplicate had every chance to go out. */
async function afterAnotherSend(h: AppHarness): Promise<void> {
  const witness = h.customer();
  await h.command(`send ${witness.conversationId} Witness`);
  await threadReaches(h, CHANNEL, witness.conversationId, /Sent|Delivered/);
}

describe('Socket Mode: Slack retries never send twice', () => {
  test('a retried envelope (retry_attempt 1, same trigger_id) is acknowledged as already queued', async () => {
    const h = await start({ mode: 'socket' });
    const { conversationId } = h.customer();
    const first = await h.command(`send ${conversationId} Only once over the socket`);
    const ack = await h.slack.socket.send('slash_commands', first.fields, {
      retryAttempt: 1,
      retryReason: 'timeout',
    });
    expect(String(ack['text'])).toMatch(/already queued/);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await afterAnotherSend(h);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(rootsIn(h, CHANNEL)).toHaveLength(2);
  });

  test('the same command delivered twice at the same moment sends once', async () => {
    const h = await start({ mode: 'socket' });
    const { conversationId } = h.customer();
    const command = slashCommand({ text: `send ${conversationId} Twins`, response_url: h.slack.responseUrl() });
    const acks = await Promise.all([
      h.slack.socket.send('slash_commands', command),
      h.slack.socket.send('slash_commands', command, { retryAttempt: 1, retryReason: 'timeout' }),
    ]);
    expect(acks.map((ack) => String(ack['text'])).filter((text) => /already queued/.test(text))).toHaveLength(1);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await afterAnotherSend(h);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(rootsIn(h, CHANNEL)).toHaveLength(2);
  });
});

describe('HTTP mode: the same request twice at the same moment', () => {
  test('two identical signed requests in parallel send once and post one thread', async () => {
    const h = await start({});
    const { conversationId } = h.customer();
    const body = formBody({
      ...slashCommand({ text: `send ${conversationId} Parallel twins`, response_url: h.slack.responseUrl() }),
    });
    const responses = await Promise.all(
      [0, 1].map(() => postSigned(`${h.url}/slack/events`, body, { secret: SLACK_DEFAULTS.signingSecret })),
    );
    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await afterAnotherSend(h);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(rootsIn(h, CHANNEL)).toHaveLength(2);
  });
});

describe('Socket Mode: the other flows', () => {
  test('the thread moves to the DM when the bot cannot post in the channel', async () => {
    const h = await start({ mode: 'socket', slack: { scopes: ['commands', 'chat:write', 'users:read'] } });
    h.slack.addChannel({ id: 'C0OUTSIDE2', name: 'ops', member: false });
    const { conversationId } = h.customer({ name: 'Socket Fallback' });
    await h.command(`send ${conversationId} Via the socket`, { channel_id: 'C0OUTSIDE2', channel_name: 'ops' });
    await threadReaches(h, h.slack.dmChannelId(SLACK_DEFAULTS.user.id), conversationId, /Sent|Delivered/);
    await eventually(() => responseTexts(h).find((text) => text.includes('/invite')), 'the invite hint');
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
  });

  test('an alert’s Retry button works over the socket, and a double click sends once', async () => {
    const h = await start({ mode: 'socket', env: { SLACK_ALERT_CHANNEL: 'C0ALERTS02' } });
    h.slack.addChannel({ id: 'C0ALERTS02', name: 'alerts', member: true });
    h.slack.addUser({ id: 'U0OTHER002', name: 'carl' });
    const { conversationId } = h.customer({ wrote: false });
    await h.command(`send ${conversationId} Retry me`);
    await threadReaches(h, CHANNEL, conversationId, /Failed/);
    const alert = await eventually(() => rootsIn(h, 'C0ALERTS02')[0], 'the alert');
    const value =
      (alert.blocks as Array<{ accessory?: { action_id?: string; value?: string } }>).find(
        (block) => block.accessory?.action_id === 'retry_send',
      )?.accessory?.value ?? '';
    h.chatwoot.addIncomingMessage(conversationId, { content: 'ok now' });
    const click = (user?: { id: string; name: string }) =>
      h.click({
        actionId: 'retry_send',
        value,
        channel: { id: 'C0ALERTS02', name: 'alerts' },
        message: { ts: alert.ts, text: alert.text },
        ...(user === undefined ? {} : { user }),
      });
    // Two people click at the same moment.
    await Promise.all([click(), click({ id: 'U0OTHER002', name: 'carl' })]);
    await eventually(
      () => (/Sent|Delivered/.test(threadFor(h, CHANNEL, conversationId).replies[1]?.text ?? '') ? true : undefined),
      'the retry to reach Sent',
    );
    await eventually(() => responseTexts(h).find((text) => /already retried/.test(text)), 'the loser to be told');
    await afterAnotherSend(h);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(threadFor(h, CHANNEL, conversationId).replies).toHaveLength(2);
  });
});
