import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ALLOWED_WEBHOOK_EVENTS,
  type FakeChatwoot,
  type FakeChatwootOptions,
  type FakeConversation,
  type FakeInbox,
  type FakeWebhook,
  startFakeChatwoot,
} from '../fakes/fake-chatwoot.ts';

const T0 = Date.parse('2026-06-17T10:00:00.000Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Payload;
  at: number;
}

/** The fields the tests read; payloads are plain JSON. */
interface Payload {
  event: string;
  id: number;
  [key: string]: unknown;
}

interface Receiver {
  url: string;
  received: Received[];
  /** The status to answer with, or `hang` to never answer. */
  answer: number | 'hang';
}

/** A loopback endpoint that records every request as raw text. */
async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { url: '', received: [], answer: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      receiver.received.push({ headers: req.headers, raw, body: JSON.parse(raw) as Payload, at: Date.now() });
      if (receiver.answer === 'hang') return;
      res.writeHead(receiver.answer, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chatwoot/webhook`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return receiver;
}

interface Setup {
  fake: FakeChatwoot;
  inbox: FakeInbox;
  conversation: FakeConversation;
  receiver: Receiver;
  webhook: FakeWebhook;
  base: string;
}

/** A WhatsApp inbox with an open conversation (window open) and a webhook to a loopback receiver. */
async function setup(
  options: FakeChatwootOptions = {},
  subscriptions = ['message_created', 'message_updated', 'conversation_created', 'conversation_status_changed'],
): Promise<Setup> {
  const clock = { now: T0 };
  const fake = await startFakeChatwoot({ now: () => clock.now, ...options });
  cleanups.push(() => fake.close());
  const inbox = fake.addInbox({ name: 'WhatsApp Support', channelType: 'Channel::Whatsapp' });
  const contact = fake.addContact({ name: 'Jane', phoneNumber: '+14155550123' });
  const conversation = fake.addConversation({ inboxId: inbox.id, contactId: contact.id });
  fake.addIncomingMessage(conversation.id, { content: 'Hi there' });
  const receiver = await startReceiver();
  const webhook = fake.addWebhook({ url: receiver.url, subscriptions });
  return { fake, inbox, conversation, receiver, webhook, base: `${fake.url}/api/v1/accounts/${fake.accountId}` };
}

async function api(
  url: string,
  init: { method?: string; token: string; json?: unknown },
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { api_access_token: init.token };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

async function settle(fake: FakeChatwoot): Promise<void> {
  await fake.whenDeliveryIdle();
  await fake.whenWebhooksIdle();
}

function sign(secret: string, timestamp: string, raw: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`;
}

/** What the app must do: HMAC over `${ts}.${raw body}`, compared in constant time. */
function verifies(secret: string, headers: Record<string, string | string[] | undefined>, raw: string): boolean {
  const timestamp = headers['x-chatwoot-timestamp'];
  const signature = headers['x-chatwoot-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  const expected = Buffer.from(sign(secret, timestamp, raw));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function record(value: unknown): Record<string, unknown> {
  return value as Record<string, unknown>;
}

function firstMessage(payload: Payload): Record<string, unknown> {
  const conversation = record(payload['conversation']);
  return record((conversation['messages'] as unknown[])[0]);
}

describe('delivery and signature', () => {
  it('POSTs signed JSON with Chatwoot’s headers; the signature covers the raw (HTML-escaped) body', async () => {
    const s = await setup();
    s.fake.addIncomingMessage(s.conversation.id, { content: 'Is <b>5 & 6</b> ok?' });
    await settle(s.fake);

    expect(s.receiver.received).toHaveLength(1);
    const [got] = s.receiver.received;
    if (!got) throw new Error('nothing received');
    expect(got.headers).toMatchObject({
      'content-type': 'application/json',
      accept: 'application/json',
      'x-chatwoot-delivery': expect.stringMatching(UUID),
      'x-chatwoot-timestamp': String(T0 / 1000),
      'x-chatwoot-signature': expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
      'user-agent': 'Ruby',
    });
    expect(s.webhook.secret).toMatch(/^[1-9A-HJ-NP-Za-km-z]{24}$/);
    expect(verifies(s.webhook.secret, got.headers, got.raw)).toBe(true);
    expect(verifies('another-secret', got.headers, got.raw)).toBe(false);
    // ActiveSupport escapes <, > and &: re-serializing the parsed body would not verify.
    expect(got.raw).toContain('Is \\u003cb\\u003e5 \\u0026 6\\u003c/b\\u003e ok?');
    expect(verifies(s.webhook.secret, got.headers, JSON.stringify(got.body))).toBe(false);
    expect(got.body).toMatchObject({ event: 'message_created', content: 'Is <b>5 & 6</b> ok?' });

    const [delivery] = s.fake.webhookDeliveries();
    expect(delivery).toMatchObject({
      webhookId: s.webhook.id,
      url: s.receiver.url,
      event: 'message_created',
      deliveryId: got.headers['x-chatwoot-delivery'],
      status: 200,
      ok: true,
      error: null,
      timestamp: T0 / 1000,
      rawBody: got.raw,
    });
  });

  it('sends neither signature nor delivery id before Chatwoot 4.11.2', async () => {
    const s = await setup({ version: '4.11.1' });
    s.fake.addIncomingMessage(s.conversation.id, { content: 'unsigned' });
    await settle(s.fake);
    const headers = s.receiver.received[0]?.headers ?? {};
    expect(headers['content-type']).toBe('application/json');
    expect(Object.keys(headers).filter((name) => name.startsWith('x-chatwoot-'))).toEqual([]);
  });

  it('holds a request’s deliveries until it is answered and keeps the order per webhook', async () => {
    const s = await setup({ latencyMs: 80, delivery: { sentAfterMs: 10, deliveredAfterMs: 20 } });
    const sentAt = Date.now();
    await api(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { content: 'Hello' },
    });
    await settle(s.fake);
    // The response leaves after 80 ms; source_id (10 ms) and delivered (20 ms) happen before it and wait too.
    expect((s.receiver.received[0]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(70);
    expect(s.receiver.received.map((r) => [r.body.event, firstMessage(r.body)['status']])).toEqual([
      ['message_created', 'sent'],
      ['message_updated', 'sent'],
      ['message_updated', 'delivered'],
    ]);
  });
});

describe('message payloads', () => {
  it('follows an API message: created, then updated for source_id, delivered and read', async () => {
    const s = await setup({ delivery: { sentAfterMs: 10, deliveredAfterMs: 20, readAfterMs: 30 } });
    const reply = await api(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { content: 'Your order shipped\\\nTracking: 42\n\n', echo_id: 'slack-1' },
    });
    const id = record(reply.body)['id'];
    await settle(s.fake);

    const bodies = s.receiver.received.map((r) => r.body);
    expect(bodies.map((b) => b.event)).toEqual([
      'message_created',
      'message_updated',
      'message_updated',
      'message_updated',
    ]);
    for (const body of bodies) {
      expect(body.id).toBe(id);
      expect(body).not.toHaveProperty('status');
      expect(body).not.toHaveProperty('echo_id');
      expect(body).toMatchObject({
        content: 'Your order shipped\nTracking: 42',
        content_type: 'text',
        content_attributes: {},
        additional_attributes: {},
        message_type: 'outgoing',
        private: false,
        created_at: '2026-06-17T10:00:00.000Z',
        sender: { id: s.fake.user.id, name: s.fake.user.name, email: s.fake.user.email, type: 'user' },
        inbox: { id: s.inbox.id, name: 'WhatsApp Support' },
        account: { id: s.fake.accountId, name: 'Acme' },
        conversation: { id: s.conversation.id, inbox_id: s.inbox.id, status: 'open', channel: 'Channel::Whatsapp' },
      });
      expect(body).not.toHaveProperty('attachments');
      expect(firstMessage(body)).toMatchObject({
        id,
        message_type: 1,
        created_at: T0 / 1000,
        content: 'Your order shipped\nTracking: 42',
      });
    }
    expect(bodies.map((b) => [b['source_id'] === null, firstMessage(b)['status']])).toEqual([
      [true, 'sent'],
      [false, 'sent'],
      [false, 'delivered'],
      [false, 'read'],
    ]);
    expect(bodies[3]?.['source_id']).toBe(s.fake.message(Number(id))?.sourceId);
    expect(bodies[3]?.['source_id']).toMatch(/^wamid\./);
  });

  it('carries the failure reason in content_attributes.external_error', async () => {
    const s = await setup({ delivery: { sentAfterMs: 10, deliveredAfterMs: 20 } });
    const reply = await api(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { content: 'Hello' },
    });
    await settle(s.fake);
    const id = Number(record(reply.body)['id']);
    s.fake.setMessageStatus(id, 'failed', '131047: Re-engagement message');
    await settle(s.fake);

    const last = s.receiver.received.at(-1)?.body;
    expect(last).toMatchObject({
      event: 'message_updated',
      id,
      content_attributes: { external_error: '131047: Re-engagement message' },
    });
    expect(last).not.toHaveProperty('status');
    if (!last) throw new Error('nothing received');
    expect(firstMessage(last)).toMatchObject({
      id,
      status: 'failed',
      content_attributes: { external_error: '131047: Re-engagement message' },
    });
  });

  it('sends a customer message as incoming with the contact (no type) as sender', async () => {
    const s = await setup();
    const message = s.fake.addIncomingMessage(s.conversation.id, { content: 'Where is my order?' });
    await settle(s.fake);
    const body = s.receiver.received[0]?.body;
    expect(body).toMatchObject({
      event: 'message_created',
      id: message.id,
      message_type: 'incoming',
      source_id: message.sourceId,
      sender: {
        id: s.conversation.contactId,
        name: 'Jane',
        phone_number: '+14155550123',
        email: null,
        identifier: null,
        thumbnail: '',
        avatar: '',
        blocked: false,
        account: { id: s.fake.accountId, name: 'Acme' },
      },
      conversation: {
        can_reply: true,
        contact_inbox: { contact_id: s.conversation.contactId, inbox_id: s.inbox.id, source_id: '14155550123' },
        meta: { sender: { id: s.conversation.contactId, type: 'contact' }, assignee: null },
        account: { id: s.fake.accountId, name: 'Acme' },
      },
    });
    expect(record(body?.['sender'])).not.toHaveProperty('type');
    if (!body) throw new Error('nothing received');
    expect(firstMessage(body)).toMatchObject({ id: message.id, message_type: 0, sender: { type: 'contact' } });
  });

  it('delivers events of every inbox of the account, but not of other accounts; never activity messages', async () => {
    const s = await setup();
    const other = s.fake.addInbox({
      name: 'Second number',
      channelType: 'Channel::Whatsapp',
      phoneNumber: '+15550002222',
    });
    const contact = s.fake.addContact({ name: 'Bob', phoneNumber: '+14155550999' });
    const elsewhere = s.fake.addConversation({ inboxId: other.id, contactId: contact.id });
    const fromOther = s.fake.addIncomingMessage(elsewhere.id, { content: 'other inbox' });
    const account = s.fake.addAccount({ name: 'Other' });
    const foreignInbox = s.fake.addInbox({ name: 'Foreign', channelType: 'Channel::Whatsapp', accountId: account.id });
    const foreigner = s.fake.addContact({ name: 'Zed', phoneNumber: '+14155550777', accountId: account.id });
    const foreign = s.fake.addConversation({ inboxId: foreignInbox.id, contactId: foreigner.id });
    s.fake.addIncomingMessage(foreign.id, { content: 'other account' }, account.id);
    await api(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { content: 'Jane joined', message_type: 'activity' },
    });
    await settle(s.fake);

    expect(
      s.receiver.received.map((r) => [r.body.event, record(r.body['inbox'] ?? {})['id'] ?? r.body['inbox_id']]),
    ).toEqual([
      ['conversation_created', other.id],
      ['message_created', other.id],
    ]);
    expect(s.receiver.received[1]?.body.id).toBe(fromOther.id);
  });

  it('sends private notes (private: true) and attachments only when present', async () => {
    const s = await setup({ delivery: { sentAfterMs: null } }, ['message_created']);
    const form = new FormData();
    form.append('content', 'see file');
    form.append('attachments[]', new Blob([Buffer.from('%PDF-1.4')], { type: 'application/pdf' }), 'invoice.pdf');
    const upload = await fetch(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      headers: { api_access_token: s.fake.user.token },
      body: form,
    });
    expect(upload.status).toBe(200);
    await api(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { content: 'internal', private: true },
    });
    await settle(s.fake);
    const [file, note] = s.receiver.received.map((r) => r.body);
    expect(file).toMatchObject({
      attachments: [{ file_type: 'file', extension: 'pdf', content_type: 'application/pdf' }],
    });
    expect(note).toMatchObject({ content: 'internal', private: true, message_type: 'outgoing' });
    expect(note).not.toHaveProperty('attachments');
    // conversation.messages is the last non-private message: the file message, not the note.
    if (!note || !file) throw new Error('nothing received');
    expect(firstMessage(note)['id']).toBe(file.id);
  });
});

describe('conversation events', () => {
  it('sends conversation_created and conversation_status_changed with changed_attributes', async () => {
    const s = await setup();
    await api(`${s.base}/conversations/${s.conversation.id}/toggle_status`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { status: 'resolved' },
    });
    await settle(s.fake);
    const contact = s.fake.addContact({ name: 'New', phoneNumber: '+14155550100' });
    const created = s.fake.addConversation({ inboxId: s.inbox.id, contactId: contact.id });
    await settle(s.fake);

    const [changed, opened] = s.receiver.received.map((r) => r.body);
    expect(changed).toMatchObject({
      event: 'conversation_status_changed',
      id: s.conversation.id,
      status: 'resolved',
      changed_attributes: [{ status: { previous_value: 'open', current_value: 'resolved' } }],
      messages: [{ content: 'Hi there', message_type: 0 }],
    });
    expect(opened).toMatchObject({ event: 'conversation_created', id: created.id, messages: [], status: 'open' });
    expect(opened).not.toHaveProperty('changed_attributes');
  });
});

describe('failures and outages', () => {
  it('never retries a receiver that answers 500, and keeps delivering later events', async () => {
    const s = await setup();
    s.receiver.answer = 500;
    s.fake.addIncomingMessage(s.conversation.id, { content: 'one' });
    await settle(s.fake);
    await delay(50);
    expect(s.receiver.received).toHaveLength(1);
    expect(s.fake.webhookDeliveries()).toMatchObject([{ status: 500, ok: false, error: '500 Internal Server Error' }]);

    s.receiver.answer = 200;
    s.fake.addIncomingMessage(s.conversation.id, { content: 'two' });
    await settle(s.fake);
    expect(s.receiver.received.map((r) => r.body['content'])).toEqual(['one', 'two']);
  });

  it('drops the events of an outage for good', async () => {
    const s = await setup();
    s.fake.pauseWebhooks();
    s.fake.addIncomingMessage(s.conversation.id, { content: 'lost' });
    await settle(s.fake);
    s.fake.resumeWebhooks();
    s.fake.addIncomingMessage(s.conversation.id, { content: 'after' });
    await settle(s.fake);
    expect(s.receiver.received.map((r) => r.body['content'])).toEqual(['after']);
    expect(s.fake.webhookDeliveries().map((d) => [d.status, d.body['content']])).toEqual([
      ['dropped', 'lost'],
      [200, 'after'],
    ]);
  });

  it('gives up after the timeout, fails on refused connections and can refuse private targets', async () => {
    const s = await setup({ webhooks: { timeoutMs: 100 } });
    s.receiver.answer = 'hang';
    s.fake.addIncomingMessage(s.conversation.id, { content: 'slow' });
    await settle(s.fake);
    expect(s.fake.webhookDeliveries().at(-1)).toMatchObject({
      status: 'error',
      error: expect.stringMatching(/^Net::ReadTimeout/),
    });

    s.fake.removeWebhook(s.webhook.id);
    s.fake.addWebhook({ url: 'http://127.0.0.1:9/hook', subscriptions: ['message_created'] });
    s.fake.addIncomingMessage(s.conversation.id, { content: 'nobody' });
    await settle(s.fake);
    expect(s.fake.webhookDeliveries().at(-1)?.error).toMatch(/^Failed to open TCP connection to 127\.0\.0\.1:9/);

    s.fake.setWebhookOptions({ refusePrivateTargets: true });
    s.fake.addIncomingMessage(s.conversation.id, { content: 'refused' });
    await settle(s.fake);
    expect(s.fake.webhookDeliveries().at(-1)).toMatchObject({
      status: 'error',
      error: "Hostname '127.0.0.1' has no public ip addresses",
    });
  });
});

describe('replays and forgeries', () => {
  it('rebuilds a delivery byte for byte, or re-signs it with another secret, timestamp or delivery id', async () => {
    const s = await setup();
    s.fake.addIncomingMessage(s.conversation.id, { content: 'original' });
    await settle(s.fake);
    const [delivery] = s.fake.webhookDeliveries();
    if (!delivery) throw new Error('no delivery');

    const replay = s.fake.webhookRequest(delivery);
    expect(replay).toEqual({ url: s.receiver.url, headers: delivery.headers, body: delivery.rawBody });
    const sent = await fetch(replay.url ?? '', { method: 'POST', headers: replay.headers, body: replay.body });
    expect(sent.status).toBe(200);
    const again = s.receiver.received.at(-1);
    expect(again?.raw).toBe(s.receiver.received[0]?.raw);
    expect(again?.headers['x-chatwoot-delivery']).toBe(delivery.deliveryId);
    expect(again && verifies(s.webhook.secret, again.headers, again.raw)).toBe(true);

    const forged = lowerCase(s.fake.webhookRequest(delivery, { secret: 'guessed' }).headers);
    expect(verifies(s.webhook.secret, forged, delivery.rawBody)).toBe(false);
    const stale = lowerCase(
      s.fake.webhookRequest(delivery, { timestamp: T0 / 1000 - 3600, deliveryId: 'x-1' }).headers,
    );
    expect(stale).toMatchObject({ 'x-chatwoot-timestamp': String(T0 / 1000 - 3600), 'x-chatwoot-delivery': 'x-1' });
    expect(verifies(s.webhook.secret, stale, delivery.rawBody)).toBe(true);
  });

  it('signs any payload, e.g. a current message_updated built by webhookPayload', async () => {
    const s = await setup();
    const message = s.fake.addIncomingMessage(s.conversation.id, { content: 'hi' });
    const payload = s.fake.webhookPayload('message_updated', message.id);
    expect(payload).toMatchObject({ event: 'message_updated', id: message.id, message_type: 'incoming' });
    const request = s.fake.webhookRequest(payload);
    expect(request.url).toBe(s.receiver.url);
    expect(verifies(s.webhook.secret, lowerCase(request.headers), request.body)).toBe(true);
    expect(JSON.parse(request.body)).toEqual(payload);
  });
});

describe('webhooks API', () => {
  it('creates (wrapped or not), lists and deletes webhooks for administrators with Chatwoot’s validations', async () => {
    const s = await setup();
    const admin = s.fake.user.token;
    const url = `${s.base}/webhooks`;
    const created = await api(url, {
      method: 'POST',
      token: admin,
      json: {
        webhook: {
          url: 'https://bot.example/cw',
          name: 'slack-bot',
          subscriptions: ['message_updated'],
          inbox_id: s.inbox.id,
        },
      },
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      payload: {
        webhook: {
          id: expect.any(Number),
          name: 'slack-bot',
          url: 'https://bot.example/cw',
          account_id: s.fake.accountId,
          subscriptions: ['message_updated'],
          secret: expect.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{24}$/),
          inbox: { id: s.inbox.id, name: 'WhatsApp Support' },
        },
      },
    });

    // ParamsWrapper: a JSON body without `webhook` is wrapped; no subscriptions means the column default.
    const unwrapped = await api(url, { method: 'POST', token: admin, json: { url: 'https://bot.example/other' } });
    expect(record(record(unwrapped.body)['payload'])['webhook']).toMatchObject({
      subscriptions: ALLOWED_WEBHOOK_EVENTS.slice(0, 8),
    });
    expect(record(record(unwrapped.body)['payload'])['webhook']).not.toHaveProperty('inbox');

    const invalid = async (json: unknown) => (await api(url, { method: 'POST', token: admin, json })).body;
    expect(await invalid({ webhook: { url: 'https://bot.example/cw', subscriptions: ['message_created'] } })).toEqual({
      message: 'Url has already been taken',
      attributes: ['url'],
    });
    expect(await invalid({ url: 'javascript:alert(1)' })).toEqual({ message: 'Url is invalid', attributes: ['url'] });
    expect(await invalid({ url: 'https://x.example', subscriptions: ['message_sent'] })).toEqual({
      message: 'Subscriptions Invalid events',
      attributes: ['subscriptions'],
    });
    expect(await invalid({ url: 'https://x.example', subscriptions: [] })).toMatchObject({
      message: 'Subscriptions Invalid events',
    });
    expect(await invalid({ other: 1 })).toEqual({ error: 'param is missing or the value is empty: webhook' });

    const agent = s.fake.addUser({ name: 'Agent', accounts: [{ accountId: s.fake.accountId, role: 'agent' }] });
    expect((await api(url, { token: agent.token })).status).toBe(401);
    expect((await api(url, { method: 'POST', token: agent.token, json: { url: 'https://y.example' } })).body).toEqual({
      error: 'You are not authorized to do this action',
    });

    const listed = await api(url, { token: admin });
    const webhooks = record(record(listed.body)['payload'])['webhooks'] as Array<{ id: number; url: string }>;
    expect(webhooks.map((w) => w.url)).toEqual([s.receiver.url, 'https://bot.example/cw', 'https://bot.example/other']);
    const id = webhooks[1]?.id;
    const deleted = await api(`${url}/${id}`, { method: 'DELETE', token: admin });
    expect(deleted).toMatchObject({ status: 200, body: null });
    expect((await api(`${url}/${id}`, { method: 'DELETE', token: admin })).status).toBe(404);
    expect(s.fake.webhooks().map((w) => w.url)).toEqual([s.receiver.url, 'https://bot.example/other']);
  });

  it('delivers to a webhook the app registered through the API', async () => {
    const s = await setup();
    s.fake.removeWebhook(s.webhook.id);
    const second = await startReceiver();
    const created = await api(`${s.base}/webhooks`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { webhook: { url: second.url, subscriptions: ['message_created'] } },
    });
    const secret = String(record(record(record(created.body)['payload'])['webhook'])['secret']);
    s.fake.addIncomingMessage(s.conversation.id, { content: 'via api' });
    await settle(s.fake);
    expect(s.receiver.received).toHaveLength(0);
    const got = second.received[0];
    expect(got?.body).toMatchObject({ event: 'message_created', content: 'via api' });
    expect(got && verifies(secret, got.headers, got.raw)).toBe(true);
  });
});
