import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import type { BridgeTuning } from '../../src/bridge.ts';
import type { SlackTuning } from '../../src/slack/slack-app.ts';
import type { FakeWebhookDelivery } from '../fakes/fake-chatwoot.ts';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  type AppHarnessOptions,
  addAppWebhook,
  appHarnesses,
  eventually,
  outgoingTo,
  postWebhook,
  readyz,
  rootsIn,
  statusHistory,
  threadFor,
  threadReaches,
  WEBHOOK_SECRET,
} from '../helpers/slack-app-harness.ts';

/**
 * End to end: the fake Chatwoot POSTs signed account webhooks to the real app's `/chatwoot/webhook`; the Slack thread
 * of a send shows what they say. Polling is pushed out of the way (first re-read after a minute), so every change seen
 * here came from a webhook.
 */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const ALERTS = 'C0ALERTS01';
/** Status re-reads start after a minute: in these tests only webhooks can move a send. */
const NO_POLLING: BridgeTuning = { statusFirstDelayMs: 60_000, statusMaxDelayMs: 60_000 };
const NO_REPLY_POLLING: SlackTuning = { replyPollMs: 60_000 };

async function startWithWebhook(options: AppHarnessOptions = {}): Promise<AppHarness> {
  const h = await start({
    bridgeTuning: NO_POLLING,
    // Answers are only read back by polling after a minute: a customer's message in the thread came by webhook, and
    // marks that every delivery before it was processed (deliveries are processed in arrival order).
    slackTuning: NO_REPLY_POLLING,
    ...options,
    env: { CHATWOOT_WEBHOOK_SECRET: WEBHOOK_SECRET, ...options.env },
  });
  expect(h.stderr()).toBe('');
  addAppWebhook(h);
  return h;
}

/** Where a status text stands: states only move forward (failed from any of them). */
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
  const sorted = [...ranks].sort((a, b) => a - b);
  expect(ranks, `the status reply went back: ${JSON.stringify(texts)}`).toEqual(sorted);
}

/** Re-reads the app itself made (`?after=N&before=M`): polling, or a webhook's re-read. */
function statusReReads(h: AppHarness, conversationId: number): number {
  return h.chatwoot.requests.filter(
    (request) =>
      request.method === 'GET' &&
      request.path.endsWith(`/conversations/${conversationId}/messages`) &&
      request.query['after'] !== undefined &&
      request.query['before'] !== undefined,
  ).length;
}

function deliveriesFor(h: AppHarness, messageId: number): FakeWebhookDelivery[] {
  return h.chatwoot.webhookDeliveries().filter((delivery) => delivery.body['id'] === messageId);
}

function lastStatus(delivery: FakeWebhookDelivery): unknown {
  const conversation = delivery.body['conversation'] as { messages?: Array<{ id?: number; status?: string }> } | null;
  const last = conversation?.messages?.[0];
  return last?.id === delivery.body['id'] ? last?.status : undefined;
}

/** A customer, a sent message, and its thread at Sent (WhatsApp took it; nothing delivered yet). */
async function sentMessage(h: AppHarness, text: string, name = 'Jane Customer') {
  const { conversationId } = h.customer({ name });
  const answer = await h.command(`send ${conversationId} ${text}`);
  expect(answer.status).toBe(200);
  const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent: WhatsApp took/);
  const [message, ...more] = outgoingTo(h, conversationId);
  expect(more).toEqual([]);
  if (message === undefined) throw new Error('no outgoing message');
  return { conversationId, root, messageId: message.id };
}

describe.each(['http', 'socket'] as const)('signed webhooks drive the thread (%s mode)', (mode) => {
  test('Sent → Delivered → Read from webhooks alone, the same status reply edited in place', async () => {
    const h = await startWithWebhook({ mode, chatwoot: { delivery: { deliveredAfterMs: null } } });
    const { conversationId, root, messageId } = await sentMessage(h, 'Your parcel 4411 is on its way');
    const reReadsAtSent = statusReReads(h, conversationId);

    expect(h.chatwoot.setMessageStatus(messageId, 'delivered')).toBe(true);
    await threadReaches(h, CHANNEL, conversationId, /Delivered to Jane Customer/);
    expect(h.chatwoot.setMessageStatus(messageId, 'read')).toBe(true);
    const { replies } = await threadReaches(h, CHANNEL, conversationId, /Read by Jane Customer/);

    expect(replies).toHaveLength(1);
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
    const history = statusHistory(h, CHANNEL, root.ts);
    expectForwardOnly(history);
    expect(history.some((text) => /Delivered to/.test(text))).toBe(true);
    // Every webhook reached the app and was answered 200; nothing was re-read (the payload carried the status).
    const deliveries = deliveriesFor(h, messageId);
    expect(deliveries.length).toBeGreaterThanOrEqual(3);
    expect(deliveries.filter((delivery) => delivery.status !== 200)).toEqual([]);
    expect(statusReReads(h, conversationId)).toBe(reReadsAtSent);
  });
});

describe('states only move forward', () => {
  test('read arrives before delivered (fresh delivery ids): the thread says Read and never goes back', async () => {
    const h = await startWithWebhook({ chatwoot: { delivery: { deliveredAfterMs: null } } });
    const { conversationId, root, messageId } = await sentMessage(h, 'Out of order please');

    // Chatwoot raises delivered then read; while the webhook is down both are dropped (Chatwoot never retries) …
    h.chatwoot.pauseWebhooks();
    h.chatwoot.setMessageStatus(messageId, 'delivered');
    h.chatwoot.setMessageStatus(messageId, 'read');
    await h.chatwoot.whenWebhooksIdle();
    h.chatwoot.resumeWebhooks();
    const dropped = deliveriesFor(h, messageId).filter((delivery) => delivery.status === 'dropped');
    const delivered = dropped.find((delivery) => lastStatus(delivery) === 'delivered');
    const read = dropped.find((delivery) => lastStatus(delivery) === 'read');
    if (delivered === undefined || read === undefined) throw new Error('no dropped delivered/read deliveries');

    // … and reach the app in the wrong order, each signed now with its own (never seen) delivery id.
    const readAnswer = await postWebhook(
      h,
      h.chatwoot.webhookRequest(read, { timestamp: Math.floor(Date.now() / 1000) }),
    );
    expect(readAnswer.status).toBe(200);
    expect(readAnswer.body?.['duplicate']).toBeUndefined();
    await threadReaches(h, CHANNEL, conversationId, /Read by/);
    const deliveredAnswer = await postWebhook(
      h,
      h.chatwoot.webhookRequest(delivered, { timestamp: Math.floor(Date.now() / 1000) }),
    );
    expect(deliveredAnswer.status).toBe(200);
    expect(deliveredAnswer.body?.['duplicate']).toBeUndefined();

    // Deliveries are processed in arrival order: once the customer's next message is in the thread, the late
    // `delivered` has been applied (or ignored).
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Barrier after the late delivered' });
    await eventually(
      () => h.slack.thread(CHANNEL, root.ts).find((reply) => reply.text.includes('Barrier after the late delivered')),
      'the customer’s message in the thread',
    );
    await eventually(
      () => (h.logs().some((line) => line['msg'] === 'posted the customer’s answer in the thread') ? true : undefined),
      'the answer logged',
    );
    const history = statusHistory(h, CHANNEL, root.ts);
    expectForwardOnly(history);
    expect(history.at(-1)).toMatch(/Read by/);
    expect(threadFor(h, CHANNEL, conversationId).replies[0]?.text).toMatch(/Read by/);
  });
});

describe('forged, stale and replayed webhooks', () => {
  test('401 / 401 / 401 / 200-duplicate, nothing changes, and the refusals are logged without the body', async () => {
    const h = await startWithWebhook({ env: { SLACK_ALERT_CHANNEL: ALERTS } });
    h.slack.addChannel({ id: ALERTS, name: 'whatsapp-alerts', member: true });
    const { conversationId, root, messageId } = await sentMessage(h, 'Genuine text');
    await threadReaches(h, CHANNEL, conversationId, /Delivered to/);

    // A payload that, if believed, would fail the send and show an attacker's text.
    const payload = h.chatwoot.webhookPayload('message_updated', messageId);
    const forgedBody = {
      ...payload,
      content: 'FORGED-BODY-7f3a secret customer data',
      content_attributes: {
        ...(payload['content_attributes'] as Record<string, unknown>),
        external_error: '131026: Message undeliverable',
      },
    };
    const now = Math.floor(Date.now() / 1000);
    const forged = await postWebhook(h, h.chatwoot.webhookRequest(forgedBody, { secret: 'not-the-secret' }));
    expect(forged.status).toBe(401);
    const stale = await postWebhook(h, h.chatwoot.webhookRequest(forgedBody, { timestamp: now - 600 }));
    expect(stale.status).toBe(401);
    const fromTheFuture = await postWebhook(h, h.chatwoot.webhookRequest(forgedBody, { timestamp: now + 600 }));
    expect(fromTheFuture.status).toBe(401);
    const unsigned = await fetch(`${h.url}/chatwoot/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(forgedBody),
    });
    expect(unsigned.status).toBe(401);
    // Correct signature, but the body was changed after signing.
    const signed = h.chatwoot.webhookRequest(payload);
    const tampered = await postWebhook(h, { ...signed, body: JSON.stringify(forgedBody) });
    expect(tampered.status).toBe(401);

    // A genuine delivery the app already processed, sent again byte for byte.
    const genuine = deliveriesFor(h, messageId).find((delivery) => delivery.status === 200);
    if (genuine === undefined) throw new Error('no genuine delivery');
    const replay = await postWebhook(h, h.chatwoot.webhookRequest(genuine));
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ duplicate: true });

    // Afterwards a genuine update still works, and nothing above left a trace in the thread.
    h.chatwoot.setMessageStatus(messageId, 'read');
    await threadReaches(h, CHANNEL, conversationId, /Read by/);
    const history = statusHistory(h, CHANNEL, root.ts);
    expect(history.filter((text) => /Failed/.test(text))).toEqual([]);
    expectForwardOnly(history);
    expect(h.slack.thread(CHANNEL, root.ts)).toHaveLength(1);
    expect(h.slack.messages(ALERTS)).toEqual([]);
    expect(h.slack.messages().some((message) => message.text.includes('FORGED-BODY'))).toBe(false);

    const refusals = h.logs().filter((line) => line['msg'] === 'refused a Chatwoot webhook');
    expect(refusals.map((line) => line['reason']).sort()).toEqual(
      ['bad_signature', 'bad_signature', 'stale_timestamp', 'stale_timestamp', 'unsigned'].sort(),
    );
    expect(refusals.every((line) => line['level'] === 40)).toBe(true);
    expect(h.logs().filter((line) => line['msg'] === 'ignored a repeated Chatwoot webhook delivery')).toHaveLength(1);
    // No log line carries the body (the forged text, the genuine text, or the customer's name).
    expect(h.stdout()).not.toContain('FORGED-BODY');
    for (const line of refusals) {
      const shown = JSON.stringify(line);
      expect(shown).not.toContain('Genuine text');
      expect(shown).not.toContain('131026');
    }
  });
});

describe('a late WhatsApp failure', () => {
  test('accepted, then 131047: the thread says Failed with advice, and one alert', async () => {
    const h = await startWithWebhook({
      env: { SLACK_ALERT_CHANNEL: ALERTS },
      chatwoot: {
        delivery: () => ({ outcome: 'failed', externalError: '131047: Re-engagement message', failedAfterMs: 200 }),
      },
    });
    h.slack.addChannel({ id: ALERTS, name: 'whatsapp-alerts', member: true });
    const { conversationId } = h.customer({ name: 'Late Failure' });
    await h.command(`send ${conversationId} This will fail later`);

    const { root, replies } = await threadReaches(h, CHANNEL, conversationId, /Failed/);
    expect(replies).toHaveLength(1);
    const shown = replies[0]?.text ?? '';
    expect(shown).toMatch(/more than 24 hours have passed since the customer last wrote/);
    expect(shown).toMatch(/approved template/);
    const history = statusHistory(h, CHANNEL, root.ts);
    expectForwardOnly(history);
    // WhatsApp took it first: the thread said so before it failed.
    expect(history.some((text) => /Sent: WhatsApp took/.test(text))).toBe(true);

    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the failure alert');
    expect(alert.text).toContain(`conversation #${conversationId}`);
    expect(alert.text).toMatch(/more than 24 hours/);

    // The same failure reported again (a fresh delivery id): no second alert, no second status reply.
    const failedDelivery = h.chatwoot
      .webhookDeliveries()
      .find((delivery) => delivery.event === 'message_updated' && delivery.rawBody.includes('131047'));
    if (failedDelivery === undefined) throw new Error('no failure delivery');
    const again = await postWebhook(
      h,
      h.chatwoot.webhookRequest(failedDelivery, {
        deliveryId: 'fresh-delivery-id-1',
        timestamp: Math.floor(Date.now() / 1000),
      }),
    );
    expect(again.status).toBe(200);
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Barrier: sorry, I was away' });
    await eventually(
      () => h.slack.thread(CHANNEL, root.ts).find((reply) => reply.text.includes('Barrier: sorry')),
      'the customer’s message in the thread',
    );
    await delay(300);
    expect(rootsIn(h, ALERTS)).toHaveLength(1);
    expect(h.logs().filter((line) => line['msg'] === 'posted a failure alert')).toHaveLength(1);
    expect(h.slack.thread(CHANNEL, root.ts).filter((reply) => /Failed/.test(reply.text))).toHaveLength(1);
  });
});

describe('events that are not ours change nothing', () => {
  test('other inboxes, an agent’s own message, and a signed copy moved to another inbox: nothing posted or changed', async () => {
    const h = await startWithWebhook({
      env: { SLACK_ALERT_CHANNEL: ALERTS },
      chatwoot: { delivery: { deliveredAfterMs: null } },
    });
    h.slack.addChannel({ id: ALERTS, name: 'whatsapp-alerts', member: true });
    const { conversationId, root, messageId } = await sentMessage(h, 'Ours, with a marker');

    // Another inbox of the same account (Chatwoot sends account webhooks for every inbox).
    const website = h.chatwoot.addInbox({ name: 'Website chat', channelType: 'Channel::Api' });
    const visitor = h.chatwoot.addContact({ name: 'Web Visitor', email: 'visitor@example.com' });
    const webConversation = h.chatwoot.addConversation({ inboxId: website.id, contactId: visitor.id });
    h.chatwoot.addIncomingMessage(webConversation.id, { content: 'OTHER-INBOX hello from the website' });
    const webAgent = h.chatwoot.addOutgoingMessage(webConversation.id, { content: 'OTHER-INBOX agent answer' });
    h.chatwoot.setMessageStatus(webAgent.id, 'failed', '131026: Message undeliverable');

    // An agent typing in Chatwoot in our conversation: an outgoing message without our marker, which then fails.
    const agent = h.chatwoot.addOutgoingMessage(conversationId, { content: 'AGENT-TYPED in Chatwoot' });
    h.chatwoot.setMessageStatus(agent.id, 'failed', '131026: Message undeliverable');

    // Signed correctly, but about another inbox: our message failing, and a customer's answer.
    const ours = h.chatwoot.webhookPayload('message_updated', messageId);
    const elsewhere = { id: website.id, name: website.name };
    const movedFailure = {
      ...ours,
      inbox: elsewhere,
      content_attributes: {
        ...(ours['content_attributes'] as Record<string, unknown>),
        external_error: '131026: Message undeliverable',
      },
    };
    expect((await postWebhook(h, h.chatwoot.webhookRequest(movedFailure))).status).toBe(200);
    // A customer's answer as Chatwoot would send it for our conversation (a message id Chatwoot never had, so only
    // this webhook could post it), moved to the other inbox.
    const real = h.chatwoot.webhookPayload('message_created', h.chatwoot.messages(conversationId)[0]?.id ?? 0);
    const answer = { ...real, id: 987_654, content: 'MOVED-ANSWER customer text', message_type: 'incoming' };
    const movedAnswer = { ...answer, inbox: elsewhere };
    expect((await postWebhook(h, h.chatwoot.webhookRequest(movedAnswer))).status).toBe(200);

    // Our message is read now; the conversation's last message is the agent's, so the app must re-read ours.
    const reReads = statusReReads(h, conversationId);
    h.chatwoot.setMessageStatus(messageId, 'read');
    await threadReaches(h, CHANNEL, conversationId, /Read by/);
    expect(statusReReads(h, conversationId)).toBeGreaterThan(reReads);

    expect(h.slack.thread(CHANNEL, root.ts)).toHaveLength(1);
    expectForwardOnly(statusHistory(h, CHANNEL, root.ts));
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
    expect(h.slack.messages(ALERTS)).toEqual([]);
    const everything = h.slack
      .messages()
      .map((message) => message.text)
      .join('\n');
    expect(everything).not.toMatch(/OTHER-INBOX|AGENT-TYPED|MOVED-ANSWER|undeliverable/);
    expect(h.logs().filter((line) => Number(line['level']) >= 50)).toEqual([]);

    // Control: the same answer, genuinely from our inbox, is posted (so the inbox is what kept it out).
    expect((await postWebhook(h, h.chatwoot.webhookRequest(answer))).status).toBe(200);
    await eventually(
      () => h.slack.thread(CHANNEL, root.ts).find((reply) => reply.text.includes('MOVED-ANSWER')),
      'the genuine answer in the thread',
    );
  });
});

describe('/readyz and the webhook', () => {
  test('configured, none yet; then the last delivery and a count once one arrives', async () => {
    const h = await startWithWebhook();
    const before = await readyz(h);
    expect(before['webhook']).toEqual({ configured: true });

    const startedAt = Date.now();
    h.customer({ name: 'Ready Check' });
    await h.chatwoot.whenWebhooksIdle();
    expect(h.chatwoot.webhookDeliveries().map((delivery) => delivery.status)).toEqual([200]);
    const webhook = await eventually(async () => {
      const state = (await readyz(h))['webhook'] as Record<string, unknown> | undefined;
      return state?.['lastDeliveryAt'] === undefined ? undefined : state;
    }, '/readyz to show the last delivery');
    expect(webhook['configured']).toBe(true);
    expect(webhook['deliveries']).toBe(1);
    const at = Date.parse(String(webhook['lastDeliveryAt']));
    expect(at).toBeGreaterThanOrEqual(startedAt - 1_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1_000);

    // A refused delivery is not a delivery.
    const forged = h.chatwoot.webhookRequest({ event: 'message_created', id: 1 }, { secret: 'wrong' });
    expect((await postWebhook(h, forged)).status).toBe(401);
    expect(((await readyz(h))['webhook'] as Record<string, unknown>)['deliveries']).toBe(1);
  });
});

describe('a long text in two messages', () => {
  test('Delivered only once WhatsApp delivered both parts (the first part’s status is re-read)', async () => {
    const h = await startWithWebhook({ chatwoot: { delivery: { deliveredAfterMs: null } } });
    const { conversationId } = h.customer({ name: 'Long Reader' });
    const text = Array.from({ length: 900 }, (_, i) => `word${i}`).join(' ');
    await h.command(`send ${conversationId} ${text}`);
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent: WhatsApp took messages \d+, \d+/);
    const [firstPart, secondPart, ...more] = outgoingTo(h, conversationId).map((message) => message.id);
    expect(more).toEqual([]);
    if (firstPart === undefined || secondPart === undefined) throw new Error('expected two parts');

    h.chatwoot.setMessageStatus(firstPart, 'delivered');
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Barrier: reading the first part' });
    await eventually(
      () => h.slack.thread(CHANNEL, root.ts).find((reply) => reply.text.includes('Barrier: reading the first part')),
      'the customer’s message in the thread',
    );
    expect(h.slack.thread(CHANNEL, root.ts)[0]?.text).toMatch(/Sent: WhatsApp took/);

    h.chatwoot.setMessageStatus(secondPart, 'delivered');
    await threadReaches(h, CHANNEL, conversationId, /Delivered to Long Reader/);
    h.chatwoot.setMessageStatus(firstPart, 'read');
    h.chatwoot.setMessageStatus(secondPart, 'read');
    await threadReaches(h, CHANNEL, conversationId, /Read by Long Reader/);
    expectForwardOnly(statusHistory(h, CHANNEL, root.ts));
  });
});

describe('an update that arrives before Chatwoot has answered the send', () => {
  test('is applied, not dropped, and the late answer does not move the thread back', async () => {
    // Chatwoot stored the message and its job ran (WhatsApp even delivered it) while the answer to the POST is still
    // on its way to the app (a slow proxy, a busy Puma): the webhook comes first.
    const h = await startWithWebhook({ chatwoot: { delivery: { sentAfterMs: 10, deliveredAfterMs: 30 } } });
    const { conversationId } = h.customer({ name: 'Early Webhook' });
    h.chatwoot.fault({ type: 'stall', ms: 1_500, afterStore: true, match: { method: 'POST', path: /\/messages$/ } });
    // Chatwoot's own deliveries (held behind the POST) are lost: only the early one reaches the app.
    h.chatwoot.pauseWebhooks();
    await h.command(`send ${conversationId} Delivered before the answer`);
    const message = await eventually(() => {
      const stored = outgoingTo(h, conversationId)[0];
      return stored?.status === 'delivered' ? stored : undefined;
    }, 'Chatwoot to hold the message as delivered');
    const sendRequest = () =>
      h.chatwoot.requests.find((request) => request.method === 'POST' && request.path.endsWith('/messages'));
    const early = await postWebhook(
      h,
      h.chatwoot.webhookRequest(h.chatwoot.webhookPayload('message_updated', message.id)),
    );
    expect(early.status).toBe(200);
    await threadReaches(h, CHANNEL, conversationId, /Delivered to Early Webhook/, 3_000);
    // The premise held: the app learnt it from the webhook, before Chatwoot answered the POST.
    expect(sendRequest()?.respondedAt ?? null).toBeNull();

    // Chatwoot's answer arrives (message stored, `sent`): the send is done and the thread stays at Delivered.
    await eventually(async () => {
      const answered = sendRequest()?.respondedAt ?? null;
      const queue = (await readyz(h))['queue'] as { queued?: number; inProgress?: number } | undefined;
      return answered !== null && queue?.queued === 0 && queue.inProgress === 0 ? true : undefined;
    }, 'Chatwoot’s answer to be handled');
    h.chatwoot.resumeWebhooks();
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Barrier after the answer' });
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Delivered to Early Webhook/);
    await eventually(
      () => h.slack.thread(CHANNEL, root.ts).find((reply) => reply.text.includes('Barrier after the answer')),
      'the customer’s message in the thread',
    );
    const history = statusHistory(h, CHANNEL, root.ts);
    expectForwardOnly(history);
    expect(history.at(-1)).toMatch(/Delivered to Early Webhook/);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
  });
});

describe('anything else posted to the webhook', () => {
  test('signed but not JSON, other events, unknown shapes: 200 and ignored; too large: 413; GET: 404; the app carries on', async () => {
    const h = await startWithWebhook();
    const { conversationId } = h.customer({ name: 'Still Fine' });
    const template = h.chatwoot.webhookRequest({ event: 'conversation_created', id: conversationId });
    const notJson = 'this is not json {';
    const timestamp = template.headers['X-Chatwoot-Timestamp'] ?? '';
    const { createHmac } = await import('node:crypto');
    const notJsonSigned = {
      url: null,
      headers: {
        ...template.headers,
        'X-Chatwoot-Delivery': 'not-json-1',
        'X-Chatwoot-Signature': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${timestamp}.${notJson}`).digest('hex')}`,
      },
      body: notJson,
    };
    expect((await postWebhook(h, notJsonSigned)).status).toBe(200);
    expect((await postWebhook(h, template)).status).toBe(200);
    const conversationEvent = h.chatwoot.webhookPayload('conversation_status_changed', conversationId, {
      previousStatus: 'resolved',
    });
    expect((await postWebhook(h, h.chatwoot.webhookRequest(conversationEvent))).status).toBe(200);
    const odd = { event: 'message_created', id: 'not-a-number', message_type: 7, inbox: null };
    expect((await postWebhook(h, h.chatwoot.webhookRequest(odd))).status).toBe(200);
    const huge = h.chatwoot.webhookRequest({ event: 'message_created', padding: 'x'.repeat(1_100_000) });
    expect((await postWebhook(h, huge)).status).toBe(413);
    expect((await fetch(`${h.url}/chatwoot/webhook`)).status).toBe(404);

    // Still serving: a send and its webhooks work as usual.
    await h.command(`send ${conversationId} After the noise`);
    await threadReaches(h, CHANNEL, conversationId, /Delivered to Still Fine/);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
    expect(h.logs().filter((line) => Number(line['level']) >= 50)).toEqual([]);
    expect(h.stdout()).not.toContain('this is not json');
  });
});
