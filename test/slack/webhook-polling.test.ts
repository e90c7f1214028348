import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  addAppWebhook,
  appHarnesses,
  eventually,
  outgoingTo,
  readyz,
  rootsIn,
  statusHistory,
  threadReaches,
  WEBHOOK_SECRET,
} from '../helpers/slack-app-harness.ts';

/** Without webhooks (not configured, or down), status re-reads alone bring the thread to the right end. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;

function rankOf(text: string): number {
  if (/Failed/.test(text)) return 5;
  if (/Read by/.test(text)) return 4;
  if (/Delivered to/.test(text)) return 3;
  if (/Sent: WhatsApp took/.test(text)) return 2;
  if (/Accepted by Chatwoot/.test(text)) return 1;
  return 0;
}

function expectForwardOnly(texts: string[]): void {
  const ranks = texts.map(rankOf);
  expect(ranks, `the status reply went back: ${JSON.stringify(texts)}`).toEqual([...ranks].sort((a, b) => a - b));
}

async function sentMessage(h: AppHarness, text: string, name: string) {
  const { conversationId } = h.customer({ name });
  expect((await h.command(`send ${conversationId} ${text}`)).status).toBe(200);
  const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent: WhatsApp took/);
  const message = outgoingTo(h, conversationId)[0];
  if (message === undefined) throw new Error('no outgoing message');
  return { conversationId, root, messageId: message.id };
}

describe.each(['http', 'socket'] as const)('polling mode: no CHATWOOT_WEBHOOK_SECRET (%s mode)', (mode) => {
  test('the thread still reaches Delivered and Read; /readyz says the webhook is not configured', async () => {
    const h = await start({ mode, chatwoot: { delivery: { deliveredAfterMs: null } } });
    expect(h.stderr()).toBe('');
    expect((await readyz(h))['webhook']).toEqual({ configured: false });

    const { conversationId, root, messageId } = await sentMessage(h, 'Polled all the way', 'Polly Customer');
    h.chatwoot.setMessageStatus(messageId, 'delivered');
    await threadReaches(h, CHANNEL, conversationId, /Delivered to Polly Customer/);
    h.chatwoot.setMessageStatus(messageId, 'read');
    const { replies } = await threadReaches(h, CHANNEL, conversationId, /Read by Polly Customer/);
    expect(replies).toHaveLength(1);
    expectForwardOnly(statusHistory(h, CHANNEL, root.ts));
    expect(h.chatwoot.webhookDeliveries()).toEqual([]);

    // The endpoint is off: a delivery is not taken (and never reaches Slack's handler as a 200).
    const payload = h.chatwoot.webhookPayload('message_updated', messageId);
    const refused = await fetch(`${h.url}/chatwoot/webhook`, {
      method: 'POST',
      headers: h.chatwoot.webhookRequest(payload, { secret: WEBHOOK_SECRET }).headers,
      body: JSON.stringify(payload),
    });
    expect(refused.status).not.toBe(200);
    expect(refused.status).toBeLessThan(500);
    expect((await readyz(h))['webhook']).toEqual({ configured: false });
  });
});

describe('a webhook outage', () => {
  test('deliveries dropped while the webhook is down: polling catches up, and the thread ends right', async () => {
    const h = await start({
      env: { CHATWOOT_WEBHOOK_SECRET: WEBHOOK_SECRET },
      chatwoot: { delivery: { deliveredAfterMs: 60, readAfterMs: 200 } },
    });
    addAppWebhook(h);
    // Webhooks were arriving (so re-reads had slowed down) …
    h.customer({ name: 'Earlier Customer' });
    await h.chatwoot.whenWebhooksIdle();
    expect(h.chatwoot.webhookDeliveries().map((delivery) => delivery.status)).toEqual([200]);
    await eventually(async () => {
      const webhook = (await readyz(h))['webhook'] as Record<string, unknown> | undefined;
      return webhook?.['deliveries'] === 1 ? true : undefined;
    }, 'the first delivery to count');

    // … then Chatwoot cannot reach the app: every update of the send is dropped for good.
    h.chatwoot.pauseWebhooks();
    const { conversationId } = h.customer({ name: 'Outage Customer' });
    await h.command(`send ${conversationId} Sent during the outage`);
    const { root, replies } = await threadReaches(h, CHANNEL, conversationId, /Read by Outage Customer/);
    expect(replies).toHaveLength(1);
    expectForwardOnly(statusHistory(h, CHANNEL, root.ts));
    const messageId = outgoingTo(h, conversationId)[0]?.id;
    const ours = h.chatwoot.webhookDeliveries().filter((delivery) => delivery.body['id'] === messageId);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((delivery) => delivery.status === 'dropped')).toBe(true);

    // Back up: nothing is re-sent by Chatwoot, and the thread stays as it is.
    h.chatwoot.resumeWebhooks();
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
    expect(h.slack.thread(CHANNEL, root.ts)[0]?.text).toMatch(/Read by Outage Customer/);
  });

  test('a late failure during the outage: polling shows Failed with the WhatsApp reason', async () => {
    const h = await start({
      env: { CHATWOOT_WEBHOOK_SECRET: WEBHOOK_SECRET },
      chatwoot: {
        delivery: () => ({ outcome: 'failed', externalError: '131026: Message undeliverable', failedAfterMs: 150 }),
      },
    });
    addAppWebhook(h);
    h.chatwoot.pauseWebhooks();
    const { conversationId } = h.customer({ name: 'Unreachable Customer' });
    await h.command(`send ${conversationId} Nobody will get this`);
    const { root, replies } = await threadReaches(h, CHANNEL, conversationId, /Failed/);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toMatch(/WhatsApp could not deliver it/);
    // Polling may see only the end (Sent can come and go between two re-reads); it never goes back.
    expectForwardOnly(statusHistory(h, CHANNEL, root.ts));
    expect(h.chatwoot.webhookDeliveries().every((delivery) => delivery.status === 'dropped')).toBe(true);
  });
});
