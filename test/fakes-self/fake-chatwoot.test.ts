import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FakeChatwoot,
  type FakeChatwootOptions,
  type FakeConversation,
  type FakeInbox,
  META_INVALID_PARAMETER_ERROR,
  META_TEMPLATE_MISSING_ERROR,
  startFakeChatwoot,
  TEMPLATE_NOT_FOUND_ERROR,
} from '../fakes/fake-chatwoot.ts';

const T0 = Date.parse('2026-06-17T10:00:00.000Z');
const HOUR = 60 * 60 * 1000;
const running: FakeChatwoot[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((fake) => fake.close()));
});

interface Setup {
  fake: FakeChatwoot;
  inbox: FakeInbox;
  conversation: FakeConversation;
  clock: { now: number };
  base: string;
}

/** A fake with one WhatsApp inbox, contact +14155550123 and an open conversation whose window is open. */
async function setup(options: FakeChatwootOptions = {}): Promise<Setup> {
  const clock = { now: T0 };
  const fake = await startFakeChatwoot({ now: () => clock.now, ...options });
  running.push(fake);
  const inbox = fake.addInbox({
    name: 'WhatsApp Support',
    channelType: 'Channel::Whatsapp',
    phoneNumber: '+15550001111',
  });
  const contact = fake.addContact({ name: 'Jane', phoneNumber: '+14155550123' });
  const conversation = fake.addConversation({ inboxId: inbox.id, contactId: contact.id });
  fake.addIncomingMessage(conversation.id, { content: 'Hi there' });
  return { fake, inbox, conversation, clock, base: `${fake.url}/api/v1/accounts/${fake.accountId}` };
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

async function call(url: string, init: RequestInit & { token?: string | null; json?: unknown } = {}): Promise<Reply> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('api_access_token', init.token);
  if (init.json !== undefined) headers.set('content-type', 'application/json');
  const response = await fetch(url, {
    ...init,
    headers,
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, headers: response.headers, text, body };
}

function as<T>(value: unknown): T {
  return value as T;
}

interface MessageJson {
  id: number;
  status: string;
  source_id: string | null;
  message_type: number;
  content: string;
  content_attributes: Record<string, unknown>;
  echo_id?: string;
}

async function post(s: Setup, body: unknown, token = s.fake.user.token): Promise<Reply> {
  return call(`${s.base}/conversations/${s.conversation.id}/messages`, { method: 'POST', token, json: body });
}

async function waitFor(check: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(5);
  }
}

describe('health, version and routing', () => {
  it('answers /health and /api without a token, with the configured version', async () => {
    const s = await setup({ version: '4.9.0' });
    expect((await call(`${s.fake.url}/health`)).body).toEqual({ status: 'woot' });
    s.fake.setServiceStatus({ queueServices: 'failing' });
    expect((await call(`${s.fake.url}/api`)).body).toEqual({
      version: '4.9.0',
      timestamp: '2026-06-17 10:00:00',
      queue_services: 'failing',
      data_services: 'ok',
    });
  });

  it('answers unknown routes with 404: the HTML page, or Rails JSON when JSON is asked for', async () => {
    const s = await setup();
    const html = await call(`${s.base}/nothing-here`, { token: s.fake.user.token });
    expect(html.status).toBe(404);
    expect(html.headers.get('content-type')).toContain('text/html');
    const json = await call(`${s.base}/nothing-here`, { headers: { accept: 'application/json' } });
    expect(json.body).toEqual({ status: 404, error: 'Not Found' });
    expect((await call(`${s.base}/conversations`, { method: 'DELETE', token: s.fake.user.token })).status).toBe(404);
  });

  it('answers malformed JSON with 400 and escapes HTML characters like ActiveSupport', async () => {
    const s = await setup();
    const bad = await call(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      headers: { 'content-type': 'application/json' },
      body: '{"content":',
    });
    expect(bad.body).toEqual({ status: 400, error: 'Bad Request' });
    const ok = await post(s, { content: '<b>&</b>' });
    expect(ok.text).toContain('\\u003cb\\u003e\\u0026\\u003c/b\\u003e');
    expect(as<MessageJson>(ok.body).content).toBe('<b>&</b>');
  });
});

describe('authentication and authorization errors', () => {
  it('returns both 401 shapes for a missing and an unknown token', async () => {
    const s = await setup();
    const missing = await call(`${s.base}/inboxes`);
    expect(missing).toMatchObject({
      status: 401,
      body: { errors: ['You need to sign in or sign up before continuing.'] },
    });
    const unknown = await call(`${s.base}/inboxes`, { token: 'nope' });
    expect(unknown).toMatchObject({ status: 401, body: { error: 'Invalid Access Token' } });
    expect(s.fake.requests.map((r) => [r.hasAccessToken, r.auth])).toEqual([
      [false, 'none'],
      [true, 'invalid'],
    ]);
  });

  it('limits AgentBot tokens to the bot endpoints', async () => {
    const s = await setup();
    const bot = s.fake.addAgentBot({ name: 'Bot' });
    const denied = { status: 401, body: { error: 'Access to this endpoint is not authorized for bots' } };
    expect(await call(`${s.base}/inboxes`, { token: bot.token })).toMatchObject(denied);
    expect(await call(`${s.fake.url}/api/v1/profile`, { token: bot.token })).toMatchObject(denied);
    expect(await call(`${s.base}/conversations/${s.conversation.id}/messages`, { token: bot.token })).toMatchObject(
      denied,
    );
    expect((await call(`${s.base}/conversations/${s.conversation.id}`, { token: bot.token })).status).toBe(200);
    const created = await post(s, { content: 'from bot' }, bot.token);
    expect(as<{ sender: unknown }>(created.body).sender).toEqual({
      id: bot.id,
      name: 'Bot',
      avatar_url: '',
      type: 'agent_bot',
    });
  });

  it('rejects users outside the account, suspended accounts and unknown accounts', async () => {
    const s = await setup();
    const stranger = s.fake.addUser({ name: 'Stranger' });
    expect(await call(`${s.base}/inboxes`, { token: stranger.token })).toMatchObject({
      status: 401,
      body: { error: 'You are not authorized to access this account' },
    });
    expect(await call(`${s.fake.url}/api/v1/accounts/999/inboxes`, { token: s.fake.user.token })).toMatchObject({
      status: 404,
      body: { error: 'Resource could not be found' },
    });
    s.fake.setAccountStatus(s.fake.accountId, 'suspended');
    expect(await call(`${s.base}/inboxes`, { token: s.fake.user.token })).toMatchObject({
      status: 401,
      body: { error: 'Account is suspended' },
    });
    const profile = await call(`${s.fake.url}/api/v1/profile`, { token: s.fake.user.token });
    expect(as<{ accounts: unknown[] }>(profile.body).accounts).toMatchObject([
      { id: 1, status: 'suspended', role: 'administrator' },
    ]);
  });

  it('shows agents only their inboxes, without provider_config, and answers 401 for other conversations', async () => {
    const s = await setup();
    const other = s.fake.addInbox({ name: 'Another WhatsApp', channelType: 'Channel::Whatsapp' });
    const agent = s.fake.addUser({ name: 'Agent', accounts: [{ accountId: s.fake.accountId, role: 'agent' }] });
    s.fake.addInboxMember(other.id, agent.id);
    const inboxes = as<{ payload: Array<Record<string, unknown>> }>(
      (await call(`${s.base}/inboxes`, { token: agent.token })).body,
    ).payload;
    expect(inboxes.map((i) => i['id'])).toEqual([other.id]);
    expect(inboxes[0]).not.toHaveProperty('provider_config');
    const admin = as<{ payload: Array<Record<string, unknown>> }>(
      (await call(`${s.base}/inboxes`, { token: s.fake.user.token })).body,
    ).payload;
    expect(admin.map((i) => i['name'])).toEqual(['Another WhatsApp', 'WhatsApp Support']);
    expect(admin[0]).toHaveProperty('provider_config');
    expect(await call(`${s.base}/conversations/${s.conversation.id}`, { token: agent.token })).toMatchObject({
      status: 401,
      body: { error: 'You are not authorized to do this action' },
    });
  });
});

describe('POST …/messages', () => {
  it('returns 200 with message_type as an integer, status sent, source_id null and the echo_id', async () => {
    const s = await setup();
    const reply = await post(s, { content: 'Hello from Slack', echo_id: 'slack-1' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      content: 'Hello from Slack',
      inbox_id: s.inbox.id,
      echo_id: 'slack-1',
      conversation_id: s.conversation.id,
      message_type: 1,
      content_type: 'text',
      status: 'sent',
      content_attributes: {},
      created_at: T0 / 1000,
      private: false,
      source_id: null,
      sender: { id: 1, type: 'user', name: 'Slack Bridge' },
    });
    expect(reply.body).not.toHaveProperty('attachments');
  });

  it('answers 404 for an unknown conversation and 422 for the model errors', async () => {
    const s = await setup();
    const unknown = await call(`${s.base}/conversations/9999/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { content: 'x' },
    });
    expect(unknown).toMatchObject({ status: 404, body: { error: 'Resource could not be found' } });
    expect(await post(s, { content: 'x', message_type: 'incoming' })).toMatchObject({
      status: 422,
      body: { error: 'Incoming messages are only allowed in Api inboxes' },
    });
    expect(await post(s, { content: 'x'.repeat(150_001) })).toMatchObject({
      status: 422,
      body: { error: 'Validation failed: Content is too long (maximum is 150000 characters)' },
    });
    expect(await post(s, { content: 'x', message_type: 'bogus' })).toMatchObject({
      status: 422,
      body: { error: "'bogus' is not a valid message_type" },
    });
    expect(await post(s, { content: 'x', template_params: { language: 'en' } })).toMatchObject({
      status: 422,
      body: { error: 'Validation failed: Name is required' },
    });
  });

  it('rejects the 201st message in a minute for one conversation (incoming ones count too)', async () => {
    const s = await setup();
    for (let i = 0; i < 198; i += 1) s.fake.addOutgoingMessage(s.conversation.id, { content: `m${i}` });
    expect((await post(s, { content: 'two hundred' })).status).toBe(200);
    expect(await post(s, { content: 'one too many' })).toMatchObject({
      status: 422,
      body: { error: 'Validation failed: Too many messages' },
    });
    s.clock.now += 61_000;
    expect((await post(s, { content: 'next minute' })).status).toBe(200);
  });

  it('stores content_attributes as sent, keeps echo_id out of GET and copies template_params', async () => {
    const s = await setup();
    const created = as<MessageJson>(
      (await post(s, { content: 'x', echo_id: 'e-1', content_attributes: '{"custom":{"slack_ts":"1.2"}}' })).body,
    );
    const listed = as<{ payload: MessageJson[] }>(
      (await call(`${s.base}/conversations/${s.conversation.id}/messages`, { token: s.fake.user.token })).body,
    ).payload.find((m) => m.id === created.id);
    expect(listed?.content_attributes).toEqual({ custom: { slack_ts: '1.2' } });
    expect(listed).not.toHaveProperty('echo_id');
    const template = as<MessageJson>(
      (await post(s, { content: 't', template_params: { name: 'hello', language: 'en_US', processed_params: {} } }))
        .body,
    );
    expect(s.fake.message(template.id)?.additionalAttributes).toEqual({
      template_params: { name: 'hello', language: 'en_US', processed_params: {} },
    });
  });

  it('accepts multipart attachments[] and describes them in the response', async () => {
    const s = await setup({ delivery: { attachmentDelayMs: 0 } });
    const form = new FormData();
    form.append('content', 'see attached');
    form.append('private', 'false');
    form.append('attachments[]', new Blob([new Uint8Array(10)], { type: 'image/png' }), 'shot.png');
    const reply = await call(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      body: form,
    });
    expect(reply.body).toMatchObject({
      content: 'see attached',
      private: false,
      attachments: [{ file_type: 'image', extension: 'png', content_type: 'image/png', file_size: 10, account_id: 1 }],
    });
    expect(s.fake.requests.at(-1)?.body).toEqual({
      content: 'see attached',
      private: 'false',
      attachments: [{ filename: 'shot.png', contentType: 'image/png', size: 10 }],
    });
  });
});

describe('asynchronous WhatsApp delivery', () => {
  it('sets a wamid source_id and then delivered, emitting message_updated events', async () => {
    const s = await setup();
    const updates: string[] = [];
    s.fake.events.on('message_updated', ({ message, changed }) => updates.push(`${message.status}:${changed.join()}`));
    const created = as<MessageJson>((await post(s, { content: 'Hello' })).body);
    await s.fake.whenDeliveryIdle();
    const stored = s.fake.message(created.id);
    expect(stored?.sourceId).toMatch(/^wamid\./);
    expect(stored?.statusHistory.map((h) => h.status)).toEqual(['sent', 'delivered']);
    expect(updates).toEqual(['sent:source_id', 'delivered:status']);
    const polled = await call(
      `${s.base}/conversations/${s.conversation.id}/messages?after=${created.id}&before=${created.id + 1}`,
      { token: s.fake.user.token },
    );
    expect(as<{ payload: MessageJson[] }>(polled.body).payload).toMatchObject([
      { id: created.id, status: 'delivered', source_id: stored?.sourceId },
    ]);
  });

  it('reports provider failures from a delivery decider as failed with external_error', async () => {
    const s = await setup({
      delivery: (context) =>
        context.message.content === 'doomed'
          ? { outcome: 'failed', externalError: '131026: Message undeliverable', failedAfterMs: 30 }
          : undefined,
    });
    const created = as<MessageJson>((await post(s, { content: 'doomed' })).body);
    await s.fake.whenDeliveryIdle();
    expect(s.fake.message(created.id)).toMatchObject({
      status: 'failed',
      externalError: '131026: Message undeliverable',
      sourceId: expect.stringMatching(/^wamid\./),
    });
  });

  it('fails free text outside the 24-hour window and texts over 4096 characters, never sends private notes', async () => {
    const s = await setup();
    const long = as<MessageJson>((await post(s, { content: 'y'.repeat(4097) })).body);
    const note = as<MessageJson>((await post(s, { content: 'internal', private: true })).body);
    const kept = as<MessageJson>((await post(s, { content: 'mine', source_id: 'external-1' })).body);
    await s.fake.whenDeliveryIdle();
    s.clock.now += 24 * HOUR;
    const late = as<MessageJson>((await post(s, { content: 'too late' })).body);
    const noTemplate = as<MessageJson>(
      (await post(s, { content: 'tpl', template_params: { name: 'order_update', language: 'en_US' } })).body,
    );
    await s.fake.whenDeliveryIdle();
    expect(s.fake.message(long.id)).toMatchObject({ status: 'failed', externalError: META_INVALID_PARAMETER_ERROR });
    expect(s.fake.message(late.id)).toMatchObject({
      status: 'failed',
      externalError: TEMPLATE_NOT_FOUND_ERROR,
      sourceId: null,
    });
    expect(s.fake.message(noTemplate.id)).toMatchObject({
      status: 'failed',
      externalError: META_TEMPLATE_MISSING_ERROR,
    });
    expect(s.fake.message(note.id)).toMatchObject({ status: 'sent', sourceId: null });
    expect(s.fake.message(kept.id)).toMatchObject({ status: 'sent', sourceId: 'external-1' });
  });

  it('sends an approved template with the right parameter count outside the window', async () => {
    const s = await setup();
    const inbox = s.fake.addInbox({
      name: 'Templates',
      channelType: 'Channel::Whatsapp',
      messageTemplates: [
        {
          name: 'order_update',
          language: 'en_US',
          status: 'APPROVED',
          components: [{ type: 'BODY', text: 'Order {{1}} is {{2}}' }],
        },
      ],
    });
    const contact = s.fake.addContact({ name: 'Bo', phoneNumber: '+4915112345678' });
    const fresh = s.fake.addConversation({ inboxId: inbox.id, contactId: contact.id });
    expect(fresh.canReply).toBe(false);
    const body = { content: 'Order 12 is ready', template_params: { name: 'order_update', language: 'en_us' } };
    const url = `${s.base}/conversations/${fresh.id}/messages`;
    const ok = as<MessageJson>(
      (
        await call(url, {
          method: 'POST',
          token: s.fake.user.token,
          json: {
            ...body,
            template_params: { ...body.template_params, processed_params: { body: { 1: '12', 2: 'ready' } } },
          },
        })
      ).body,
    );
    const wrong = as<MessageJson>(
      (
        await call(url, {
          method: 'POST',
          token: s.fake.user.token,
          json: { ...body, template_params: { ...body.template_params, processed_params: { body: { 1: '12' } } } },
        })
      ).body,
    );
    await s.fake.whenDeliveryIdle();
    expect(s.fake.message(ok.id)?.status).toBe('delivered');
    expect(s.fake.message(wrong.id)?.status).toBe('failed');
  });

  it('never moves a read message back to delivered', async () => {
    const s = await setup({ delivery: { deliveredAfterMs: null } });
    const created = as<MessageJson>((await post(s, { content: 'x' })).body);
    await s.fake.whenDeliveryIdle();
    expect(s.fake.setMessageStatus(created.id, 'read')).toBe(true);
    expect(s.fake.setMessageStatus(created.id, 'delivered')).toBe(false);
    expect(s.fake.message(created.id)?.status).toBe('read');
  });
});

describe('can_reply', () => {
  it('is true within 24 hours of the last incoming WhatsApp message and false after', async () => {
    const s = await setup();
    const show = async () =>
      as<{ can_reply: boolean }>(
        (await call(`${s.base}/conversations/${s.conversation.id}`, { token: s.fake.user.token })).body,
      ).can_reply;
    expect(await show()).toBe(true);
    s.clock.now = T0 + 24 * HOUR - 1;
    expect(await show()).toBe(true);
    s.clock.now = T0 + 24 * HOUR;
    expect(await show()).toBe(false);
    await post(s, { content: 'outgoing does not reopen the window' });
    expect(await show()).toBe(false);
    s.fake.addIncomingMessage(s.conversation.id, { content: 'back again' });
    expect(await show()).toBe(true);
  });

  it('applies to Twilio WhatsApp but not to API or Twilio SMS inboxes', async () => {
    const s = await setup();
    const contact = s.fake.addContact({ name: 'Kim', phoneNumber: '+447700900123' });
    const replyable = (channelType: 'Channel::TwilioSms' | 'Channel::Api', medium?: 'whatsapp' | 'sms') => {
      const inbox = s.fake.addInbox({ name: `${channelType}-${medium}`, channelType, ...(medium ? { medium } : {}) });
      return s.fake.addConversation({ inboxId: inbox.id, contactId: contact.id }).canReply;
    };
    expect(replyable('Channel::TwilioSms', 'whatsapp')).toBe(false);
    expect(replyable('Channel::TwilioSms', 'sms')).toBe(true);
    expect(replyable('Channel::Api')).toBe(true);
  });
});

describe('GET …/messages paging', () => {
  it('follows MessageFinder: latest 20, 20 before, 100 after, [after, before) up to 1000', async () => {
    const s = await setup();
    const contact = s.fake.addContact({ name: 'Other', phoneNumber: '+14155550999' });
    const other = s.fake.addConversation({ inboxId: s.inbox.id, contactId: contact.id });
    const ids: number[] = s.fake.messages(s.conversation.id).map((m) => m.id);
    for (let i = 0; i < 130; i += 1) {
      ids.push(s.fake.addOutgoingMessage(s.conversation.id, { content: `m${i}`, at: T0 + i }).id);
      s.fake.addOutgoingMessage(other.id, { content: `o${i}`, at: T0 + i });
    }
    const page = async (query: string) =>
      as<{ meta: Record<string, unknown>; payload: MessageJson[] }>(
        (await call(`${s.base}/conversations/${s.conversation.id}/messages${query}`, { token: s.fake.user.token }))
          .body,
      );
    const latest = await page('');
    expect(latest.payload.map((m) => m.id)).toEqual(ids.slice(-20));
    expect(latest.meta).toMatchObject({ labels: [], contact: { type: 'contact', phone_number: '+14155550123' } });
    expect((await page(`?before=${ids[100]}`)).payload.map((m) => m.id)).toEqual(ids.slice(80, 100));
    expect((await page(`?after=${ids[0]}`)).payload.map((m) => m.id)).toEqual(ids.slice(1, 101));
    expect((await page(`?after=${ids[10]}&before=${ids[13]}`)).payload.map((m) => m.id)).toEqual(ids.slice(10, 13));
    expect((await page(`?after=${ids[5]}&before=${(ids[5] ?? 0) + 1}`)).payload.map((m) => m.id)).toEqual([ids[5]]);
  });
});

describe('conversation and contact lookups', () => {
  it('filters the conversation list by status, inbox and source_id and pages by 25 with counts', async () => {
    const s = await setup();
    s.fake.addConversation({ inboxId: s.inbox.id, contactId: s.conversation.contactId, status: 'resolved' });
    for (let i = 0; i < 30; i += 1) {
      const contact = s.fake.addContact({ name: `C${i}`, phoneNumber: `+1415555${String(1000 + i)}` });
      s.fake.addConversation({ inboxId: s.inbox.id, contactId: contact.id });
    }
    const list = async (query: string) =>
      as<{ data: { meta: Record<string, number>; payload: Array<{ id: number; status: string }> } }>(
        (await call(`${s.base}/conversations${query}`, { token: s.fake.user.token })).body,
      ).data;
    const first = await list('');
    expect(first.meta).toEqual({ mine_count: 0, assigned_count: 0, unassigned_count: 31, all_count: 31 });
    expect(first.payload).toHaveLength(25);
    expect((await list('?page=2')).payload).toHaveLength(6);
    const bySource = await list(`?inbox_id=${s.inbox.id}&source_id=14155550123&status=all`);
    expect(bySource.payload.map((c) => c.status).sort()).toEqual(['open', 'resolved']);
    expect((await list('?inbox_id=999')).payload).toEqual([]);
    expect((await list('?q=Hi%20there')).payload.map((c) => c.id)).toEqual([s.conversation.id]);
  });

  it('searches contacts 15 per page with has_more and lists a contact’s conversations newest first', async () => {
    const s = await setup();
    for (let i = 0; i < 16; i += 1) s.fake.addContact({ name: `Lead ${i}`, email: `lead${i}@example.com` });
    const search = async (query: string) =>
      as<{ meta: Record<string, unknown>; payload: Array<Record<string, unknown>> }>(
        (await call(`${s.base}/contacts/search${query}`, { token: s.fake.user.token })).body,
      );
    const page1 = await search('?q=LEAD');
    expect(page1.meta).toEqual({ count: 15, current_page: 1, has_more: true });
    expect((await search('?q=lead&page=2')).meta).toEqual({ count: 1, current_page: '2', has_more: false });
    const byPhone = await search('?q=%2B14155550123');
    expect(byPhone.payload).toMatchObject([
      { phone_number: '+14155550123', contact_inboxes: [{ source_id: '14155550123', inbox: { id: s.inbox.id } }] },
    ]);
    s.clock.now += 1000;
    const newer = s.fake.addConversation({
      inboxId: s.inbox.id,
      contactId: s.conversation.contactId,
      status: 'resolved',
    });
    const conversations = as<{ payload: Array<{ id: number }> }>(
      (await call(`${s.base}/contacts/${s.conversation.contactId}/conversations`, { token: s.fake.user.token })).body,
    ).payload;
    expect(conversations.map((c) => c.id)).toEqual([newer.id, s.conversation.id]);
  });

  it('throttles contact search per account and validates contacts like the model', async () => {
    const s = await setup({ contactSearchPerMinute: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1)
      statuses.push((await call(`${s.base}/contacts/search?q=x`, { token: 'bad' })).status);
    expect(statuses).toEqual([401, 401, 429]);
    expect(() => s.fake.addContact({ phoneNumber: '14155550123' })).toThrow(
      'Validation failed: Phone number should be in e164 format',
    );
    expect(() => s.fake.addContact({ phoneNumber: '+14155550123' })).toThrow(
      'Validation failed: Phone number has already been taken',
    );
  });

  it('creates contacts, contact inboxes and conversations with a first template message', async () => {
    const s = await setup();
    const token = s.fake.user.token;
    const duplicate = await call(`${s.base}/contacts`, {
      method: 'POST',
      token,
      json: { phone_number: '+14155550123' },
    });
    expect(duplicate).toMatchObject({
      status: 422,
      body: { message: 'Phone number has already been taken', attributes: ['phone_number'] },
    });
    const created = await call(`${s.base}/contacts`, {
      method: 'POST',
      token,
      json: { name: 'New', phone_number: '+5511987654321', inbox_id: s.inbox.id },
    });
    const payload = as<{ payload: { contact: { id: number }; contact_inbox: { source_id: string } } }>(
      created.body,
    ).payload;
    expect(payload.contact_inbox.source_id).toBe('5511987654321');
    const brazil = await call(`${s.base}/contacts/${payload.contact.id}/contact_inboxes`, {
      method: 'POST',
      token,
      json: { inbox_id: s.inbox.id, source_id: '551187654321' },
    });
    expect(brazil.body).toMatchObject({ source_id: '551187654321', inbox: { id: s.inbox.id } });
    const conversation = await call(`${s.base}/conversations`, {
      method: 'POST',
      token,
      json: {
        inbox_id: s.inbox.id,
        contact_id: payload.contact.id,
        source_id: '551187654321',
        message: { content: 'Hello', template_params: { name: 'welcome', language: 'pt_BR' } },
      },
    });
    expect(conversation.body).toMatchObject({
      id: 2,
      can_reply: false,
      status: 'open',
      messages: [{ content: 'Hello' }],
    });
    const tooLong = await call(`${s.base}/conversations`, {
      method: 'POST',
      token,
      json: { inbox_id: s.inbox.id, contact_id: payload.contact.id, message: { content: 'z'.repeat(150_001) } },
    });
    expect(tooLong).toMatchObject({
      status: 422,
      body: { message: 'Content is too long (maximum is 150000 characters)', attributes: ['content'] },
    });
    expect(s.fake.conversations().map((c) => c.id)).toEqual([1, 2]);
  });

  it('toggles status with Chatwoot’s response shape and assigns an agent who opens it', async () => {
    const s = await setup();
    const url = `${s.base}/conversations/${s.conversation.id}/toggle_status`;
    expect((await call(url, { method: 'POST', token: s.fake.user.token, json: { status: 'resolved' } })).body).toEqual({
      meta: {},
      payload: { success: true, conversation_id: s.conversation.id, current_status: 'resolved', snoozed_until: null },
    });
    const agent = s.fake.addUser({ name: 'Agent', accounts: [{ accountId: s.fake.accountId, role: 'agent' }] });
    s.fake.addInboxMember(s.inbox.id, agent.id);
    const toggled = await call(url, { method: 'POST', token: agent.token });
    expect(toggled.body).toMatchObject({ payload: { current_status: 'open' } });
    expect(s.fake.conversation(s.conversation.id)?.assigneeId).toBe(agent.id);
    expect(await call(url, { method: 'POST', token: agent.token, json: { status: 'closed' } })).toMatchObject({
      status: 500,
      body: { status: 500, error: 'Internal Server Error' },
    });
  });
});

describe('rate limiting', () => {
  it('answers 429 text/plain without Retry-After per fixed minute, counting throttled requests', async () => {
    const s = await setup({ rateLimitPerMinute: 3 });
    s.clock.now = T0 + 30_000;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await call(`${s.fake.url}/api`)).status);
    const throttled = await call(`${s.fake.url}/api`);
    expect(statuses).toEqual([200, 200, 200]);
    expect(throttled).toMatchObject({ status: 429, text: 'Retry later\n' });
    expect(throttled.headers.get('content-type')).toBe('text/plain');
    expect(throttled.headers.get('retry-after')).toBeNull();
    expect((await call(`${s.fake.url}/health`)).status).toBe(200);
    s.clock.now = T0 + 59_999;
    expect((await call(`${s.fake.url}/api`)).status).toBe(429);
    s.clock.now = T0 + 60_000;
    expect((await call(`${s.fake.url}/api`)).status).toBe(200);
    expect(s.fake.requests.filter((r) => r.outcome === 'throttled')).toHaveLength(2);
  });
});

describe('faults', () => {
  it('serves nginx HTML for 502/503/504 and Rails JSON for 500, only for matching requests', async () => {
    const s = await setup();
    s.fake.fault({ type: 'status', status: 502, match: { method: 'post', path: /\/messages$/ } });
    s.fake.fault({ type: 'status', status: 500, times: 2 });
    const gateway = await post(s, { content: 'x' });
    expect(gateway.status).toBe(502);
    expect(gateway.headers.get('content-type')).toBe('text/html');
    expect(gateway.text).toContain('<center><h1>502 Bad Gateway</h1></center>');
    expect(await call(`${s.fake.url}/api`)).toMatchObject({
      status: 500,
      body: { status: 500, error: 'Internal Server Error' },
    });
    expect((await post(s, { content: 'y' })).status).toBe(500);
    expect((await post(s, { content: 'z' })).status).toBe(200);
    expect(s.fake.messages(s.conversation.id).map((m) => m.content)).toEqual(['Hi there', 'z']);
  });

  it('stores the message but fails the response for afterStore faults', async () => {
    const s = await setup();
    s.fake.fault({ type: 'status', status: 504, afterStore: true });
    s.fake.fault({ type: 'reset', afterStore: true });
    expect((await post(s, { content: 'timed out at the proxy' })).status).toBe(504);
    await expect(post(s, { content: 'connection reset' })).rejects.toThrow();
    await s.fake.whenDeliveryIdle();
    const stored = s.fake.messages(s.conversation.id).slice(1);
    expect(stored.map((m) => [m.content, m.status])).toEqual([
      ['timed out at the proxy', 'delivered'],
      ['connection reset', 'delivered'],
    ]);
    expect(s.fake.requests.slice(-2).map((r) => [r.fault, r.outcome, r.status])).toEqual([
      ['status', 'responded', 504],
      ['reset', 'reset', null],
    ]);
  });

  it('resets before processing, and drops a stalled request the client gave up on', async () => {
    const s = await setup();
    s.fake.fault({ type: 'reset' });
    await expect(post(s, { content: 'never stored' })).rejects.toThrow();
    s.fake.fault({ type: 'stall', ms: 80 });
    const aborted = call(`${s.base}/conversations/${s.conversation.id}/messages`, {
      method: 'POST',
      token: s.fake.user.token,
      json: { content: 'abandoned' },
      signal: AbortSignal.timeout(20),
    });
    await expect(aborted).rejects.toThrow();
    await waitFor(() => s.fake.requests.at(-1)?.outcome === 'client-closed');
    s.fake.fault({ type: 'stall', ms: 30, afterStore: true });
    const started = Date.now();
    expect((await post(s, { content: 'slow but stored' })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(s.fake.messages(s.conversation.id).map((m) => m.content)).toEqual(['Hi there', 'slow but stored']);
  });

  it('refuses connections while down and serves again on the same port', async () => {
    const s = await setup({ latencyMs: 0 });
    const port = s.fake.port;
    await s.fake.down();
    await expect(fetch(`${s.fake.url}/health`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    await s.fake.up();
    expect(s.fake.port).toBe(port);
    expect((await call(`${s.fake.url}/health`)).status).toBe(200);
    s.fake.setLatency(40);
    const started = Date.now();
    await call(`${s.fake.url}/health`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('holds a stalled request until close', async () => {
    const s = await setup();
    s.fake.fault({ type: 'stall' });
    const pending = call(`${s.fake.url}/health`).catch((error: unknown) => error);
    await waitFor(() => s.fake.requests.length === 1);
    await s.fake.close();
    expect(await pending).toBeInstanceOf(Error);
    expect(s.fake.requests[0]?.outcome).toBe('server-closed');
  });
});

describe('request log', () => {
  it('records method, path, query, redacted headers, parsed body and status; Date follows the clock', async () => {
    const s = await setup();
    await post(s, { content: 'logged', private: false });
    await call(`${s.base}/conversations?status=all&labels[]=a&labels[]=b`, { token: s.fake.user.token });
    const [created, listed] = s.fake.requests;
    expect(created).toMatchObject({
      method: 'POST',
      path: `/api/v1/accounts/1/conversations/${s.conversation.id}/messages`,
      query: {},
      hasAccessToken: true,
      auth: 'user',
      body: { content: 'logged', private: false },
      status: 200,
      outcome: 'responded',
      responseBody: { content: 'logged', message_type: 1 },
      receivedAt: T0,
    });
    expect(created?.headers['api_access_token']).toBe('[redacted]');
    expect((await call(`${s.fake.url}/health`)).headers.get('date')).toBe(new Date(T0).toUTCString());
    expect(created?.headers['content-type']).toBe('application/json');
    expect(listed?.query).toEqual({ status: 'all', 'labels[]': ['a', 'b'] });
  });
});
