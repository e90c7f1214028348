import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Keyv } from 'keyv';
import { afterEach, describe, expect, test } from 'vitest';
import { systemClock } from '../../src/shared/clock.ts';
import {
  createWebhookReceiver,
  type MessageEvent,
  verifySignature,
  WEBHOOK_PATH,
} from '../../src/webhooks/chatwoot-webhook.ts';
import { createLogSink } from '../helpers/log-sink.ts';

const SECRET = 'whsec-test';
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

function sign(body: string, ts = Math.floor(Date.now() / 1000), secret = SECRET) {
  return `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
}

const event = (id: number) => ({
  event: 'message_updated',
  id,
  content: 'Hi',
  message_type: 'outgoing',
  content_attributes: { slack_whatsapp_bridge: 's1/0' },
  inbox: { id: 1, name: 'WhatsApp' },
  conversation: { id: 57, messages: [{ id, status: 'delivered' }] },
});

async function receiver() {
  const received: MessageEvent[] = [];
  const log = createLogSink('debug');
  const webhook = createWebhookReceiver({
    secret: SECRET,
    deliveries: new Keyv(),
    clock: systemClock,
    logger: log.logger,
    onMessage: async (message) => {
      received.push(message);
    },
  });
  const server = createServer((request, response) => {
    if (!webhook.handle(request, response)) {
      response.writeHead(404);
      response.end();
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}${WEBHOOK_PATH}`;
  const post = (body: string, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { webhook, received, log, post };
}

describe("Chatwoot's webhook", () => {
  test('Slack-independent check of the signature: over the raw bytes with the timestamp, constant time', () => {
    const body = Buffer.from('{"a":1}');
    const ts = String(Math.floor(Date.now() / 1000));
    const good = sign(body.toString(), Number(ts));
    expect(verifySignature(SECRET, { signature: good, timestamp: ts }, body, Date.now())).toEqual({ ok: true });
    expect(verifySignature(SECRET, { signature: good, timestamp: ts }, Buffer.from('{"a":2}'), Date.now())).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifySignature(SECRET, { signature: good, timestamp: ts }, body, Date.now() + 301_000)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(verifySignature(SECRET, { signature: undefined, timestamp: ts }, body, Date.now())).toEqual({
      ok: false,
      reason: 'unsigned',
    });
  });

  test('a signed delivery is answered 200 and processed once; its replay is answered but not processed again', async () => {
    const h = await receiver();
    const body = JSON.stringify(event(4821));
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'x-chatwoot-delivery': randomUUID(),
      'x-chatwoot-timestamp': String(ts),
      'x-chatwoot-signature': sign(body, ts),
    };
    expect((await h.post(body, headers)).status).toBe(200);
    const replay = await h.post(body, headers);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ ok: true, duplicate: true });
    await h.webhook.idle();
    expect(h.received.map((message) => message.id)).toEqual([4821]);
    expect((await h.webhook.status())?.count).toBe(1);
  });

  test('forged and stale deliveries get 401 and are logged without their body', async () => {
    const h = await receiver();
    const body = JSON.stringify({ ...event(1), content: 'customer secret text' });
    const ts = Math.floor(Date.now() / 1000);
    const forged = await h.post(body, {
      'x-chatwoot-delivery': randomUUID(),
      'x-chatwoot-timestamp': String(ts),
      'x-chatwoot-signature': sign(body, ts, 'wrong-secret'),
    });
    const stale = await h.post(body, {
      'x-chatwoot-delivery': randomUUID(),
      'x-chatwoot-timestamp': String(ts - 600),
      'x-chatwoot-signature': sign(body, ts - 600),
    });
    expect([forged.status, stale.status]).toEqual([401, 401]);
    await h.webhook.idle();
    expect(h.received).toEqual([]);
    expect(h.log.lines().map((line) => line['reason'])).toEqual(
      expect.arrayContaining(['bad_signature', 'stale_timestamp']),
    );
    expect(h.log.text()).not.toContain('customer secret text');
  });
});
