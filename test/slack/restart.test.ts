import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { startFakeChatwoot } from '../fakes/fake-chatwoot.ts';
import { SLACK_DEFAULTS, startFakeSlack } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  eventually,
  FAST_SLACK_LIMITS,
  outgoingTo,
  rootsIn,
  startAppHarness,
  threadFor,
} from '../helpers/slack-app-harness.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const CHANNEL = SLACK_DEFAULTS.channel.id;

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'slack-restart-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const slack = await startFakeSlack({ ...FAST_SLACK_LIMITS });
  cleanups.push(() => slack.close());
  const chatwoot = await startFakeChatwoot();
  cleanups.push(() => chatwoot.close());
  const inbox = chatwoot.addInbox({
    name: 'WhatsApp Support',
    channelType: 'Channel::Whatsapp',
    provider: 'whatsapp_cloud',
    phoneNumber: '+14155550100',
  });
  return { storeUrl: `sqlite://${join(dir, 'bridge.sqlite')}`, fakes: { slack, chatwoot, inbox } };
}

async function startApp(options: Parameters<typeof startAppHarness>[0]): Promise<AppHarness> {
  const h = await startAppHarness(options);
  cleanups.push(() => h.close());
  return h;
}

describe('a restart keeps editing the same thread', () => {
  test('stopped while the send waits for Chatwoot: after the restart the SAME status reply says Sent; no second root', async () => {
    const { storeUrl, fakes } = await setup();
    const first = await startApp({ storeUrl, fakes });
    const { conversationId } = first.customer({ name: 'Restart Customer' });
    await fakes.chatwoot.down();
    await first.command(`send ${conversationId} Survives a restart`);
    const waiting = await eventually(() => {
      const { root, replies } = threadFor(first, CHANNEL, conversationId);
      const reply = replies[0];
      return root !== undefined && reply !== undefined && /Waiting|Queued|Retrying/.test(reply.text)
        ? { root, reply }
        : undefined;
    }, 'the thread to show the send waiting');
    expect(await first.stop()).toBe(0);
    expect(outgoingTo(first, conversationId)).toEqual([]);

    const second = await startApp({ storeUrl, fakes });
    expect(second.stderr()).toBe('');
    await fakes.chatwoot.up();
    const reply = await eventually(() => {
      const now = fakes.slack.thread(CHANNEL, waiting.root.ts)[0];
      return now !== undefined && /Sent|Delivered/.test(now.text) ? now : undefined;
    }, 'the same status reply to say Sent');
    expect(reply.ts).toBe(waiting.reply.ts);
    expect(fakes.slack.thread(CHANNEL, waiting.root.ts)).toHaveLength(1);
    expect(rootsIn(second, CHANNEL)).toHaveLength(1);
    expect(outgoingTo(second, conversationId).map((message) => message.content)).toEqual(['Survives a restart']);
  });

  test('stopped right after the ack, with Slack slow: after the restart there is still exactly one thread', async () => {
    const { storeUrl, fakes } = await setup();
    const first = await startApp({ storeUrl, fakes });
    const { conversationId } = first.customer({ name: 'Early Stop' });
    await fakes.chatwoot.down();
    // Slack is slow to take the root: the app is told to stop while it is in flight.
    fakes.slack.fault('chat.postMessage', { delayMs: 400, times: 1 });
    await first.command(`send ${conversationId} Posted after the restart`);
    expect(await first.stop()).toBe(0);

    const second = await startApp({ storeUrl, fakes });
    await fakes.chatwoot.up();
    await eventually(
      () =>
        /Sent|Delivered/.test(threadFor(second, CHANNEL, conversationId).replies[0]?.text ?? '') ? true : undefined,
      'the thread to say Sent',
    );
    expect(rootsIn(second, CHANNEL)).toHaveLength(1);
    expect(threadFor(second, CHANNEL, conversationId).replies).toHaveLength(1);
    expect(outgoingTo(second, conversationId)).toHaveLength(1);
  });

  test('a failure alert still waiting for its group window when the app stops is posted (now or after the restart)', async () => {
    // The grouping window is longer than the shutdown's Slack drain (5 s): the alert is pending in memory at stop.
    const { storeUrl, fakes } = await setup();
    fakes.slack.addChannel({ id: 'C0ALERTS03', name: 'alerts', member: true });
    const env = { SLACK_ALERT_CHANNEL: 'C0ALERTS03' };
    const first = await startApp({ storeUrl, fakes, env, slackTuning: { alertGroupWindowMs: 5_500 } });
    const { conversationId } = first.customer({ name: 'Lost Alert', wrote: false });
    await first.command(`send ${conversationId} Closed window`);
    await eventually(
      () => (/Failed/.test(threadFor(first, CHANNEL, conversationId).replies[0]?.text ?? '') ? true : undefined),
      'the thread to say Failed',
    );
    expect(await first.stop()).toBe(0);

    const second = await startApp({ storeUrl, fakes, env, slackTuning: { alertGroupWindowMs: 100 } });
    const alert = await eventually(() => rootsIn(second, 'C0ALERTS03')[0], 'the alert', 3_000);
    expect(alert.text).toContain('Lost Alert');
  }, 20_000);
});
