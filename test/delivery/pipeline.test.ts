import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { type SendRequest, SubmitError } from '../../src/bridge.ts';
import type { ConversationReference } from '../../src/conversations/reference/parse-reference.ts';
import { describeState } from '../../src/delivery/describe-send.ts';
import { MARKER_KEY } from '../../src/delivery/reconcile.ts';
import { rank, type SendRecord } from '../../src/delivery/send-record.ts';
import { atLeast, type Harness, reached, recordStates, startHarness, waitForSend } from '../helpers/bridge-harness.ts';

let harness: Harness | undefined;
const temporary: string[] = [];

afterEach(async () => {
  await harness?.close();
  harness = undefined;
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  harness = await startHarness(options);
  return harness;
}

let keys = 0;
function request(reference: ConversationReference, text: string, key = `test:${++keys}`): SendRequest {
  return {
    idempotencyKey: key,
    reference,
    content: { kind: 'text', text },
    requestedBy: { via: 'test', userId: 'U0123ABCD' },
  };
}
const byId = (conversationId: number): ConversationReference => ({ kind: 'id', conversationId, looksLikePhone: false });
const byPhone = (e164: string): ConversationReference => ({ kind: 'phone', e164, country: undefined });

function outgoing(h: Harness, conversationId: number) {
  return h.fake.messages(conversationId).filter((message) => message.messageType === 'outgoing');
}

describe('delivering a message', () => {
  test('goes from queued to delivered, storing one Chatwoot message in WhatsApp formatting, states only moving forward', async () => {
    const h = await start();
    const states = recordStates(h.bridge);
    const { conversationId } = await h.customer({ name: 'Jane Doe' });
    const { record, duplicate } = await h.bridge.submit(
      request(byId(conversationId), 'Your order *4411* has shipped :package:'),
    );
    expect(duplicate).toBe(false);
    expect(record.state).toBe('queued');

    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    const [message] = outgoing(h, conversationId);
    expect(outgoing(h, conversationId)).toHaveLength(1);
    expect(message?.content).toBe('Your order **4411** has shipped \u{1F4E6}');
    expect(message?.contentAttributes[MARKER_KEY]).toBe(`${record.id}/0`);
    expect(done.parts[0]?.messageId).toBe(message?.id);
    expect(done.parts[0]?.whatsappId).toMatch(/^wamid\./);
    expect(done.conversation).toMatchObject({
      id: conversationId,
      contactName: 'Jane Doe',
      channel: 'whatsapp',
      reopen: 'not_needed',
    });

    const seen = states.get(record.id) ?? [];
    expect(seen[0]).toBe('queued');
    const last = seen.at(-1);
    expect(last !== undefined && last !== 'failed' && rank(last) >= rank('sent')).toBe(true);
    for (let index = 1; index < seen.length; index += 1) {
      const [before, after] = [seen[index - 1], seen[index]];
      if (before !== undefined && after !== undefined && before !== 'failed' && after !== 'failed') {
        expect(rank(after)).toBeGreaterThan(rank(before));
      }
    }
  });

  test('returns the first send for a repeated idempotency key and sends once', async () => {
    const h = await start();
    const { conversationId } = await h.customer();
    const first = await h.bridge.submit(request(byId(conversationId), 'Hello', 'slack:trigger:1'));
    const again = await h.bridge.submit(request(byId(conversationId), 'Hello', 'slack:trigger:1'));
    expect(again.duplicate).toBe(true);
    expect(again.record.id).toBe(first.record.id);
    await waitForSend(h.bridge, first.record.id, atLeast('sent'));
    expect(await h.bridge.submit(request(byId(conversationId), 'Hello', 'slack:trigger:1'))).toMatchObject({
      duplicate: true,
    });
    expect(outgoing(h, conversationId)).toHaveLength(1);
  });

  test('does not acknowledge a send it could not store, and sends nothing', async () => {
    const h = await start();
    const { conversationId } = await h.customer();
    await h.store.close();
    await expect(h.bridge.submit(request(byId(conversationId), 'Unstorable'))).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    await new Promise((resolveLater) => setTimeout(resolveLater, 100));
    expect(outgoing(h, conversationId)).toEqual([]);
  });

  test('refuses empty text before storing anything', async () => {
    const h = await start();
    await expect(h.bridge.submit(request(byId(1), '   '))).rejects.toBeInstanceOf(SubmitError);
    expect(h.fake.requests).toHaveLength(0);
  });

  test('keeps messages to one conversation in the order they were accepted, with several in flight', async () => {
    const h = await start({ env: { CHATWOOT_CONCURRENCY: '4' }, fake: { latencyMs: 5 } });
    const { conversationId } = await h.customer();
    const other = await h.customer();
    const sends = [];
    for (let index = 1; index <= 8; index += 1) {
      sends.push(await h.bridge.submit(request(byId(conversationId), `message ${index}`)));
      sends.push(await h.bridge.submit(request(byId(other.conversationId), `other ${index}`)));
    }
    for (const { record } of sends) await waitForSend(h.bridge, record.id, atLeast('accepted'));
    expect(outgoing(h, conversationId).map((message) => message.content)).toEqual(
      Array.from({ length: 8 }, (_, index) => `message ${index + 1}`),
    );
    expect(outgoing(h, other.conversationId).map((message) => message.content)).toEqual(
      Array.from({ length: 8 }, (_, index) => `other ${index + 1}`),
    );
  });

  test('splits long text into ordered parts within the Twilio limit, one record', async () => {
    const h = await start({ inbox: { channelType: 'Channel::TwilioSms', medium: 'whatsapp' } });
    const { conversationId } = await h.customer();
    const paragraph = 'This is a sentence about your delivery window. '.repeat(14).trim();
    const text = [paragraph, paragraph, paragraph].join('\n\n');
    const { record } = await h.bridge.submit(request(byId(conversationId), text));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    const contents = outgoing(h, conversationId).map((message) => message.content ?? '');
    expect(done.parts.length).toBeGreaterThan(1);
    expect(contents).toHaveLength(done.parts.length);
    expect(contents.every((content) => content.length <= 1600)).toBe(true);
    expect(contents.join('\n\n')).toBe(text);
    expect(outgoing(h, conversationId).map((m) => m.contentAttributes[MARKER_KEY])).toEqual(
      done.parts.map((part) => `${record.id}/${part.index}`),
    );
  });
});

describe('finding the conversation', () => {
  test('resolves a phone number to the open conversation and reuses the answer without asking Chatwoot again', async () => {
    const h = await start();
    const { conversationId, phone } = await h.customer();
    const first = await h.bridge.submit(request(byPhone(phone), 'First'));
    await waitForSend(h.bridge, first.record.id, atLeast('sent'));
    h.fake.clearRequests();
    const second = await h.bridge.submit(request(byPhone(phone), 'Second'));
    await waitForSend(h.bridge, second.record.id, atLeast('sent'));
    expect(outgoing(h, conversationId).map((message) => message.content)).toEqual(['First', 'Second']);
    const lookups = h.fake.requests.filter((entry) => entry.method === 'GET' && !entry.path.endsWith('/messages'));
    expect(lookups).toEqual([]);
  });

  test('reopens the latest conversation when all of them are resolved, and says so', async () => {
    const h = await start();
    const { conversationId, phone } = await h.customer({ status: 'resolved' });
    const { record } = await h.bridge.submit(request(byPhone(phone), 'We found your parcel'));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    expect(done.conversation?.reopen).toBe('done');
    expect(h.fake.conversation(conversationId)?.status).toBe('open');
    expect(outgoing(h, conversationId).at(-1)?.content).toBe('We found your parcel');
  });

  test('writes to the open conversation rather than a newer resolved one, as Chatwoot routes the answer', async () => {
    const h = await start();
    const { contactId, conversationId, phone } = await h.customer();
    const newer = h.fake.addConversation({ inboxId: h.inbox.id, contactId });
    await fetch(`${h.fake.url}/api/v1/accounts/1/conversations/${newer.id}/toggle_status`, {
      method: 'POST',
      headers: { api_access_token: h.fake.user.token, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'resolved' }),
    });
    const { record } = await h.bridge.submit(request(byPhone(phone), 'Hello'));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    expect(done.conversation?.id).toBe(conversationId);
  });

  test('finds a Brazilian contact whose WhatsApp id lacks the mobile 9', async () => {
    const h = await start();
    const contact = h.fake.addContact({ name: 'Ana', phoneNumber: '+551187654321' });
    const conversation = h.fake.addConversation({
      inboxId: h.inbox.id,
      contactId: contact.id,
      sourceId: '551187654321',
    });
    h.fake.addIncomingMessage(conversation.id, { content: 'Oi', at: h.clock.now() - 1_000 });
    const { record } = await h.bridge.submit(request(byPhone('+5511987654321'), 'Olá'));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    expect(done.conversation?.id).toBe(conversation.id);
  });

  test.each([
    ['an unknown number', async () => byPhone('+442079460958'), 'unknown_number'],
    ['a conversation that does not exist', async () => byId(999), 'conversation_not_found'],
    [
      'a conversation outside WhatsApp',
      async (h: Harness) => {
        const email = h.fake.addInbox({ name: 'Email', channelType: 'Channel::Email' });
        const contact = h.fake.addContact({ name: 'Bo', email: 'bo@example.com' });
        return byId(h.fake.addConversation({ inboxId: email.id, contactId: contact.id }).id);
      },
      'not_whatsapp',
    ],
  ] as const)('fails a send to %s with a reason and sends nothing', async (_name, reference, code) => {
    const h = await start();
    const { record } = await h.bridge.submit(request(await reference(h), 'Hello'));
    const failed = await waitForSend(h.bridge, record.id, reached('failed'));
    expect(failed.failure?.code).toBe(code);
    expect(failed.failure?.advice).not.toBe('');
    expect(h.fake.requests.filter((entry) => entry.method === 'POST')).toEqual([]);
  });
});

describe('the 24-hour window', () => {
  test('refuses free text up front when the customer has not written in 24 hours', async () => {
    const h = await start();
    const { conversationId } = await h.customer();
    h.clock.jump(25 * 60 * 60_000);
    const { record } = await h.bridge.submit(request(byId(conversationId), 'Hello again'));
    const failed = await waitForSend(h.bridge, record.id, reached('failed'));
    expect(failed.failure).toMatchObject({ code: 'window_closed' });
    expect(failed.failure?.advice).toMatch(/template/);
    expect(outgoing(h, conversationId)).toEqual([]);
  });

  test('checks the window again when a waiting send finally leaves', async () => {
    const h = await start();
    const { conversationId } = await h.customer();
    // Learn the window while it is open, then let Chatwoot go down so the send waits past its end.
    const warm = await h.bridge.submit(request(byId(conversationId), 'Warm up'));
    await waitForSend(h.bridge, warm.record.id, atLeast('sent'));
    await h.fake.down();
    const { record } = await h.bridge.submit(request(byId(conversationId), 'Late message'));
    await waitForSend(h.bridge, record.id, reached('waiting'));
    h.clock.jump(24 * 60 * 60_000);
    await h.fake.up();
    const failed = await waitForSend(h.bridge, record.id, reached('failed'));
    expect(failed.failure?.code).toBe('window_closed');
    expect(outgoing(h, conversationId).map((message) => message.content)).toEqual(['Warm up']);
  });
});

describe('private notes', () => {
  test('stores a private note even outside the 24-hour window, without reopening, pacing or WhatsApp', async () => {
    const h = await start();
    const { conversationId } = await h.customer({ status: 'resolved' });
    h.clock.jump(25 * 60 * 60_000);
    const { record } = await h.bridge.submit({
      idempotencyKey: 'note:1',
      reference: byId(conversationId),
      content: { kind: 'note', text: 'Called her; *refund* approved' },
      requestedBy: { via: 'test', userId: 'U0123ABCD' },
    });
    const done = await waitForSend(h.bridge, record.id, (r) => r.parts.some((part) => part.messageId !== undefined));
    const notes = h.fake.messages(conversationId).filter((message) => message.private);
    expect(notes.map((message) => message.content)).toEqual(['Called her; **refund** approved']);
    expect(notes[0]?.contentAttributes[MARKER_KEY]).toBe(`${record.id}/0`);
    expect(done.state).toBe('accepted');
    expect(done.failure).toBeUndefined();
    expect(h.fake.conversation(conversationId)?.status).toBe('resolved');
    expect(describeState(done, Date.now())).toMatch(
      /^Private note added to conversation #\d+ as message \d+; not sent to WhatsApp\.$/,
    );
  });

  test('refuses an empty note before storing anything', async () => {
    const h = await start();
    await expect(
      h.bridge.submit({
        idempotencyKey: 'note:2',
        reference: byId(1),
        content: { kind: 'note', text: '   ' },
        requestedBy: { via: 'test' },
      }),
    ).rejects.toBeInstanceOf(SubmitError);
  });
});

describe('approved templates', () => {
  const template = (key: string, to: ConversationReference): SendRequest => ({
    idempotencyKey: key,
    reference: to,
    content: {
      kind: 'template',
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      parameters: { body: { '1': 'Jane', '2': '4411' } },
      rendered: 'Hi Jane, your order 4411 has shipped.',
    },
    requestedBy: { via: 'test', userId: 'U0123ABCD' },
  });
  const TEMPLATES = [
    {
      name: 'order_update',
      language: 'en_US',
      status: 'APPROVED',
      category: 'UTILITY',
      components: [{ type: 'BODY', text: 'Hi {{1}}, your order {{2}} has shipped.' }],
    },
  ];

  test('goes out with template_params outside the 24-hour window, and says free text must wait', async () => {
    const h = await start({ inbox: { messageTemplates: TEMPLATES } });
    const { conversationId } = await h.customer();
    h.clock.jump(25 * 60 * 60_000);
    const { record } = await h.bridge.submit(template('t:1', byId(conversationId)));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    const [message] = outgoing(h, conversationId);
    expect(message?.content).toBe('Hi Jane, your order 4411 has shipped.');
    expect(message?.additionalAttributes['template_params']).toEqual({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      processed_params: { body: { '1': 'Jane', '2': '4411' } },
    });
    expect(describeState(done, Date.now())).toMatch(/free text can follow once the customer replies/);
  });

  test('starts a conversation with a number that never had one: contact, conversation, then the template', async () => {
    const h = await start({ inbox: { messageTemplates: TEMPLATES } });
    const { record } = await h.bridge.submit(template('t:2', byPhone('+14155550177')));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    const conversations = h.fake.conversations().filter((c) => c.inboxId === h.inbox.id);
    expect(conversations).toHaveLength(1);
    expect(done.conversation?.id).toBe(conversations[0]?.id);
    expect(done.conversation?.contactPhone).toBe('+14155550177');
    expect(outgoing(h, conversations[0]?.id ?? 0).map((m) => m.additionalAttributes['template_params'])).toHaveLength(
      1,
    );
  });

  test('two sends to the same new number at once make one conversation', async () => {
    const h = await start({ inbox: { messageTemplates: TEMPLATES } });
    const [a, b] = await Promise.all([
      h.bridge.submit(template('t:3', byPhone('+14155550178'))),
      h.bridge.submit(template('t:4', byPhone('+14155550178'))),
    ]);
    await waitForSend(h.bridge, a.record.id, atLeast('sent'));
    await waitForSend(h.bridge, b.record.id, atLeast('sent'));
    const conversations = h.fake.conversations().filter((c) => c.inboxId === h.inbox.id);
    expect(conversations).toHaveLength(1);
    expect(outgoing(h, conversations[0]?.id ?? 0)).toHaveLength(2);
  });

  test('refuses free text to a number with no conversation, pointing to templates, and creates nothing', async () => {
    const h = await start({ inbox: { messageTemplates: TEMPLATES } });
    const { record } = await h.bridge.submit(request(byPhone('+14155550179'), 'Hello there'));
    const failed = await waitForSend(h.bridge, record.id, reached('failed'));
    expect(failed.failure?.code).toBe('unknown_number');
    expect(failed.failure?.advice).toMatch(/approved WhatsApp template.*\/whatsapp template/);
    expect(h.fake.conversations().filter((c) => c.inboxId === h.inbox.id)).toEqual([]);
  });
});

describe('faults', () => {
  test('rides out a burst of 5xx, showing why it waits, and sends once', async () => {
    const h = await start();
    const states = recordStates(h.bridge);
    const { conversationId } = await h.customer();
    h.fake.fault({ type: 'status', status: 503, times: 3, match: { method: 'POST', path: /\/messages$/ } });
    const { record } = await h.bridge.submit(request(byId(conversationId), 'Despite it all'));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'));
    expect(states.get(record.id)).toContain('waiting');
    expect(outgoing(h, conversationId)).toHaveLength(1);
    expect(done.waiting).toBeUndefined();
  });

  test.each([
    ['the connection resets', { type: 'reset' } as const],
    ['a proxy answers 502', { type: 'status', status: 502 } as const],
    ['the answer stalls past the timeout', { type: 'stall', ms: 2_500 } as const],
  ])('finds the stored message instead of sending it twice when %s after Chatwoot stored it', async (_name, fault) => {
    const h = await start();
    const { conversationId } = await h.customer();
    h.fake.fault({ ...fault, afterStore: true, times: 1, match: { method: 'POST', path: /\/messages$/ } });
    const { record } = await h.bridge.submit(request(byId(conversationId), 'Exactly once'));
    const done = await waitForSend(h.bridge, record.id, atLeast('sent'), 8_000);
    const messages = outgoing(h, conversationId);
    expect(messages).toHaveLength(1);
    expect(done.parts[0]?.messageId).toBe(messages[0]?.id);
    expect(h.log.lines().some((line) => line['msg'] === 'found the message of an uncertain attempt')).toBe(true);
  });

  test('sends again when the uncertain attempt proves not to have been stored', async () => {
    const h = await start();
    const { conversationId } = await h.customer();
    h.fake.fault({ type: 'reset', times: 1, match: { method: 'POST', path: /\/messages$/ } });
    const { record } = await h.bridge.submit(request(byId(conversationId), 'Second try'));
    await waitForSend(h.bridge, record.id, atLeast('sent'));
    expect(outgoing(h, conversationId)).toHaveLength(1);
  });

  test("waits for Chatwoot's next minute when it throttles, losing and repeating nothing", async () => {
    const h = await start({ fake: { rateLimitPerMinute: 6 } });
    const states = recordStates(h.bridge);
    const { conversationId } = await h.customer();
    // Start 1.5 s before a minute boundary, so the throttled window ends soon.
    h.clock.jump(60_000 - (h.clock.now() % 60_000) - 1_500);
    const sends = [];
    for (let index = 1; index <= 6; index += 1) {
      sends.push((await h.bridge.submit(request(byId(conversationId), `burst ${index}`))).record);
    }
    for (const record of sends) await waitForSend(h.bridge, record.id, atLeast('accepted'), 10_000);
    expect(h.fake.requests.filter((entry) => entry.status === 429).length).toBeGreaterThan(0);
    expect(outgoing(h, conversationId).map((message) => message.content)).toEqual(
      Array.from({ length: 6 }, (_, index) => `burst ${index + 1}`),
    );
    const throttled = sends.find((record) => states.get(record.id)?.includes('waiting'));
    expect(throttled).toBeDefined();
    expect(h.log.lines().some((line) => line['msg'] === 'chatwoot rate limit reached; pausing all requests')).toBe(
      true,
    );
  });

  test('accepts sends at once while Chatwoot is down and delivers them when it is back', async () => {
    const h = await start();
    const { conversationId } = await h.customer();
    const warm = await h.bridge.submit(request(byId(conversationId), 'Before'));
    await waitForSend(h.bridge, warm.record.id, atLeast('sent'));
    await h.fake.down();
    const started = Date.now();
    const { record } = await h.bridge.submit(request(byId(conversationId), 'During'));
    expect(Date.now() - started).toBeLessThan(1_000);
    const waiting = await waitForSend(h.bridge, record.id, reached('waiting'));
    expect(waiting.waiting?.reason).toBe('Chatwoot cannot be reached');
    await h.fake.up();
    await waitForSend(h.bridge, record.id, atLeast('sent'));
    expect(outgoing(h, conversationId).map((message) => message.content)).toEqual(['Before', 'During']);
  });

  test('fails a send that Chatwoot accepted but WhatsApp rejected, with advice a person can act on', async () => {
    const h = await start({
      fake: {
        delivery: () => ({ outcome: 'failed', externalError: '131026: Message undeliverable', failedAfterMs: 60 }),
      },
    });
    const { conversationId } = await h.customer();
    const { record } = await h.bridge.submit(request(byId(conversationId), 'Hello?'));
    const failed = await waitForSend(h.bridge, record.id, reached('failed'));
    expect(failed.failure).toMatchObject({ code: 'whatsapp_failed', whatsappError: '131026: Message undeliverable' });
    expect(failed.failure?.message).toMatch(/number may not use WhatsApp/);
  });

  test('resumes after a crash mid-request without losing or duplicating a send', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-'));
    temporary.push(dir);
    const storeUrl = `sqlite://${join(dir, 'bridge.sqlite')}`;
    const h = await start({ storeUrl });
    const { conversationId } = await h.customer();
    // The first message is stored by Chatwoot but its answer never comes: the process "crashes" meanwhile.
    h.fake.fault({ type: 'stall', afterStore: true, times: 1, match: { method: 'POST', path: /\/messages$/ } });
    const sent: SendRecord[] = [];
    for (const text of ['one', 'two', 'three'])
      sent.push((await h.bridge.submit(request(byId(conversationId), text))).record);
    await waitForSend(h.bridge, sent[0]?.id ?? '', (record) => record.parts[0]?.inFlightSince !== undefined);
    h.bridge.halt();

    const restarted = await h.restart();
    expect(await restarted.start()).toEqual({ resumed: 3 });
    for (const record of sent) await waitForSend(restarted, record.id, atLeast('sent'), 8_000);
    expect(outgoing(h, conversationId).map((message) => message.content)).toEqual(['one', 'two', 'three']);
  });
});

describe('logs', () => {
  test('never contain the token, a full phone number or the message text above trace level', async () => {
    const h = await start({ logLevel: 'debug' });
    const { phone } = await h.customer();
    h.fake.fault({ type: 'status', status: 500, times: 1, match: { method: 'POST', path: /\/messages$/ } });
    const { record } = await h.bridge.submit(request(byPhone(phone), 'Top secret shipping details'));
    await waitForSend(h.bridge, record.id, atLeast('sent'));
    const text = h.log.text();
    expect(text).not.toContain(h.fake.user.token);
    expect(text).not.toContain(phone);
    expect(text).not.toContain(phone.slice(1));
    expect(text).not.toContain('Top secret');
    expect(h.log.lines().find((line) => line['msg'] === 'send accepted')).toMatchObject({
      textLength: 27,
      via: 'test',
    });
  });
});
