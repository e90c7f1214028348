import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { BridgeTuning } from '../../src/bridge.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { type FakeChatwootOptions, startFakeChatwoot } from '../fakes/fake-chatwoot.ts';
import { SLACK_DEFAULTS, startFakeSlack } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  type AppHarnessOptions,
  eventually,
  FAST_SLACK_LIMITS,
  freePort,
  outgoingTo,
  postWebhook,
  rootsIn,
  startAppHarness,
  statusHistory,
  threadReaches,
  WEBHOOK_SECRET,
} from '../helpers/slack-app-harness.ts';

/**
 * A restart in between: the mapping conversation → thread and the send → status reply live in the store, so the
 * customer's answer and a late status webhook land in the thread opened before the restart.
 */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const CHANNEL = SLACK_DEFAULTS.channel.id;
/** Only webhooks move sends in these tests (re-reads would start after a minute). */
const NO_POLLING: BridgeTuning = { statusFirstDelayMs: 60_000, statusMaxDelayMs: 60_000 };

async function setup(chatwootOptions: FakeChatwootOptions = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'replies-restart-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const slack = await startFakeSlack({ ...FAST_SLACK_LIMITS });
  cleanups.push(() => slack.close());
  const chatwoot = await startFakeChatwoot(chatwootOptions);
  cleanups.push(() => chatwoot.close());
  const inbox = chatwoot.addInbox({
    name: 'WhatsApp Support',
    channelType: 'Channel::Whatsapp',
    provider: 'whatsapp_cloud',
    phoneNumber: '+14155550100',
  });
  // One address for the app across restarts: Chatwoot's webhook points at it.
  const port = await freePort();
  chatwoot.addWebhook({
    url: `http://127.0.0.1:${port}/chatwoot/webhook`,
    subscriptions: ['message_created', 'message_updated'],
    secret: WEBHOOK_SECRET,
  });
  return {
    storeUrl: `sqlite://${join(dir, 'bridge.sqlite')}`,
    port,
    fakes: { slack, chatwoot, inbox },
  };
}

async function startApp(options: AppHarnessOptions): Promise<AppHarness> {
  const h = await startAppHarness({
    bridgeTuning: NO_POLLING,
    slackTuning: { replyPollMs: 60_000 },
    ...options,
    env: { CHATWOOT_WEBHOOK_SECRET: WEBHOOK_SECRET, ...options.env },
  });
  cleanups.push(() => h.close());
  expect(h.stderr()).toBe('');
  return h;
}

describe('a restart keeps the conversation’s thread', () => {
  test('after a restart on the same store, the answer goes to the original thread and a status webhook edits the same reply', async () => {
    const { storeUrl, port, fakes } = await setup({ delivery: { deliveredAfterMs: null } });
    const first = await startApp({ storeUrl, port, fakes });
    const { conversationId } = first.customer({ name: 'Restart Customer' });
    await first.command(`send ${conversationId} Sent before the restart`);
    const before = await threadReaches(first, CHANNEL, conversationId, /Sent: WhatsApp took/);
    const statusReply = before.replies[0];
    if (statusReply === undefined) throw new Error('no status reply');
    const messageId = outgoingTo(first, conversationId)[0]?.id;
    if (messageId === undefined) throw new Error('no outgoing message');
    expect(await first.stop()).toBe(0);

    const second = await startApp({ storeUrl, port, fakes });
    fakes.chatwoot.addIncomingMessage(conversationId, { content: 'Answer after the restart' });
    const answer = await eventually(
      () =>
        fakes.slack.thread(CHANNEL, before.root.ts).find((reply) => reply.text.includes('Answer after the restart')),
      'the answer in the thread opened before the restart',
    );
    expect(answer.text).toContain('Restart Customer');

    fakes.chatwoot.setMessageStatus(messageId, 'delivered');
    const delivered = await eventually(() => {
      const reply = fakes.slack.thread(CHANNEL, before.root.ts)[0];
      return reply !== undefined && /Delivered to Restart Customer/.test(reply.text) ? reply : undefined;
    }, 'the same status reply to say Delivered');
    expect(delivered.ts).toBe(statusReply.ts);
    expectOneThread(second, before.root.ts);
    const history = statusHistory(second, CHANNEL, before.root.ts);
    expect(history.at(-1)).toMatch(/Delivered to/);

    // Read, and the answer is not posted twice across the two processes.
    fakes.chatwoot.setMessageStatus(messageId, 'read');
    await threadReaches(second, CHANNEL, conversationId, /Read by Restart Customer/);
    const thread = fakes.slack.thread(CHANNEL, before.root.ts);
    expect(thread.map((reply) => reply.ts)).toEqual([statusReply.ts, answer.ts]);
    expect(rootsIn(second, CHANNEL)).toHaveLength(1);

    // `check` (with the app stopped) reads the store: the webhook is active and when it last delivered.
    expect(await second.stop()).toBe(0);
    let out = '';
    const code = await runCli(['check'], {
      env: second.env,
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: () => true },
      clock: systemClock,
    });
    expect(code).toBe(0);
    expect(out).toMatch(/Delivery updates: Chatwoot's webhook at \/chatwoot\/webhook .*last delivery \d{4}-\d\d-\d\dT/);
  });

  test('an answer replayed after the restart (a new delivery id) is still posted only once', async () => {
    const { storeUrl, port, fakes } = await setup();
    const first = await startApp({ storeUrl, port, fakes });
    const { conversationId } = first.customer({ name: 'Once Only' });
    await first.command(`send ${conversationId} Hello`);
    const { root } = await threadReaches(first, CHANNEL, conversationId, /Sent|Delivered/);
    const message = fakes.chatwoot.addIncomingMessage(conversationId, { content: 'Only once please' });
    await eventually(
      () => fakes.slack.thread(CHANNEL, root.ts).find((reply) => reply.text.includes('Only once please')),
      'the answer',
    );
    const delivery = fakes.chatwoot
      .webhookDeliveries()
      .find((candidate) => candidate.event === 'message_created' && candidate.body['id'] === message.id);
    if (delivery === undefined) throw new Error('no delivery');
    expect(await first.stop()).toBe(0);

    const second = await startApp({ storeUrl, port, fakes });
    // The same delivery byte for byte: a replay, refused as a duplicate across the restart.
    const replay = await postWebhook(second, fakes.chatwoot.webhookRequest(delivery));
    expect(replay).toMatchObject({ status: 200, body: { duplicate: true } });
    const fresh = fakes.chatwoot.webhookRequest(delivery, {
      deliveryId: 'after-restart-1',
      timestamp: Math.floor(Date.now() / 1000),
    });
    expect((await postWebhook(second, fresh)).status).toBe(200);
    fakes.chatwoot.addIncomingMessage(conversationId, { content: 'Barrier after the restart' });
    await eventually(
      () => fakes.slack.thread(CHANNEL, root.ts).find((reply) => reply.text.includes('Barrier after the restart')),
      'the next answer',
    );
    expect(
      fakes.slack.thread(CHANNEL, root.ts).filter((reply) => reply.text.includes('Only once please')),
    ).toHaveLength(1);
  });
});

describe('updates missed while the app was down', () => {
  test('Chatwoot could not deliver them (never retried): after the restart polling catches up in the same thread', async () => {
    const { storeUrl, port, fakes } = await setup({ delivery: { deliveredAfterMs: null } });
    const first = await startApp({ storeUrl, port, fakes });
    const { conversationId } = first.customer({ name: 'Missed Updates' });
    await first.command(`send ${conversationId} Delivered while we were down`);
    const before = await threadReaches(first, CHANNEL, conversationId, /Sent: WhatsApp took/);
    const messageId = outgoingTo(first, conversationId)[0]?.id;
    if (messageId === undefined) throw new Error('no outgoing message');
    expect(await first.stop()).toBe(0);

    // Down: Chatwoot's deliveries fail (connection refused) and are gone for good.
    const deliveredBefore = fakes.chatwoot.webhookDeliveries().length;
    fakes.chatwoot.setMessageStatus(messageId, 'delivered');
    fakes.chatwoot.setMessageStatus(messageId, 'read');
    fakes.chatwoot.addIncomingMessage(conversationId, { content: 'Answered while the bridge was down' });
    await fakes.chatwoot.whenWebhooksIdle();
    const missed = fakes.chatwoot.webhookDeliveries().slice(deliveredBefore);
    expect(missed.map((delivery) => [delivery.event, delivery.status])).toEqual([
      ['message_updated', 'error'],
      ['message_updated', 'error'],
      ['message_created', 'error'],
    ]);

    // Restarted with ordinary (here: fast) re-reads: the send is watched again and its thread catches up, and the
    // answer is read back from Chatwoot.
    const second = await startApp({ storeUrl, port, fakes, bridgeTuning: {}, slackTuning: {} });
    const reply = await eventually(() => {
      const now = fakes.slack.thread(CHANNEL, before.root.ts)[0];
      return now !== undefined && /Read by Missed Updates/.test(now.text) ? now : undefined;
    }, 'the same status reply to say Read');
    expect(reply.ts).toBe(before.replies[0]?.ts);
    const answer = await eventually(
      () =>
        fakes.slack
          .thread(CHANNEL, before.root.ts)
          .find((message) => message.text.includes('Answered while the bridge was down')),
      'the answer missed while down, in the thread',
    );
    expect(answer.text).toContain('Missed Updates');
    expectOneThread(second, before.root.ts);
  });
});

function expectOneThread(h: AppHarness, rootTs: string): void {
  expect(rootsIn(h, CHANNEL).map((root) => root.ts)).toEqual([rootTs]);
}
