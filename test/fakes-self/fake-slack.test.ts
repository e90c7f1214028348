import type { AddressInfo } from 'node:net';
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  LogLevel as WebLogLevel,
} from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeSlack, type FakeSlackOptions, SLACK_DEFAULTS, startFakeSlack } from '../fakes/fake-slack.ts';
import {
  blockActions,
  formBody,
  interactiveBody,
  postSigned,
  signSlackRequest,
  slashCommand,
} from '../helpers/slack-requests.ts';

const T0 = Date.parse('2025-11-26T12:00:00.000Z');
const C = SLACK_DEFAULTS.channel.id;
const USER = SLACK_DEFAULTS.user.id;
const SECRET = SLACK_DEFAULTS.signingSecret;
const cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop();
});

async function fakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = await startFakeSlack(options);
  cleanup.push(() => fake.close());
  return fake;
}

function client(fake: FakeSlack, token = fake.botToken): WebClient {
  return new WebClient(token, {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: WebLogLevel.ERROR,
  });
}

/** The Slack error code of a rejected Web API call. */
async function slackError(call: Promise<unknown>): Promise<string> {
  const error: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof WebAPIPlatformError) return error.data.error;
  throw new Error(`expected a platform error, got ${String(error)}`);
}

describe('signed request helpers', () => {
  it("reproduces Slack's documented signature vector", () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', body, 1531420618)).toEqual({
      'x-slack-request-timestamp': '1531420618',
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    });
  });

  it('builds slash commands and interactive bodies with unique trigger ids', () => {
    const a = slashCommand({ text: 'send 42 hello world' });
    const b = slashCommand({ text: '', channel_id: 'C0OTHER001' });
    expect(a).toMatchObject({ command: '/whatsapp', user_id: USER, channel_id: C, team_id: SLACK_DEFAULTS.teamId });
    expect(a.trigger_id).toMatch(/^\d+\.\d+\.[0-9a-f]{19}$/);
    expect(a.trigger_id).not.toBe(b.trigger_id);
    expect(b.channel_id).toBe('C0OTHER001');
    expect(Object.fromEntries(new URLSearchParams(formBody({ ...a })))).toEqual(a);
    expect(formBody({ text: 'a b&c' })).toBe('text=a+b%26c');

    const payload = blockActions({ actionId: 'retry', value: 'send-1', message: { ts: '1.000100', text: 'x' } });
    expect(payload).toMatchObject({
      type: 'block_actions',
      container: { type: 'message', message_ts: '1.000100', channel_id: C, is_ephemeral: false },
      actions: [{ action_id: 'retry', value: 'send-1', type: 'button' }],
      message: { ts: '1.000100', text: 'x' },
    });
    expect(blockActions({ actionId: 'x', isEphemeral: true, messageTs: '2.000100' })).not.toHaveProperty('message');
    const form = new URLSearchParams(interactiveBody(payload));
    expect(JSON.parse(form.get('payload') ?? '')).toEqual(payload);
  });
});

describe('fake Slack Web API', () => {
  it('answers auth.test and rejects other tokens', async () => {
    const fake = await fakeSlack();
    await expect(client(fake).auth.test()).resolves.toMatchObject({
      ok: true,
      team_id: SLACK_DEFAULTS.teamId,
      user_id: SLACK_DEFAULTS.botUserId,
      bot_id: SLACK_DEFAULTS.botId,
    });
    expect(await slackError(client(fake, 'xoxb-wrong').auth.test())).toBe('invalid_auth');
    expect(await slackError(client(fake, fake.appToken).chat.postMessage({ channel: C, text: 'x' }))).toBe(
      'not_allowed_token_type',
    );
    expect(await slackError(client(fake).apiCall('chat.nonsense'))).toBe('unknown_method');
    const json = await fetch(`${fake.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.botToken}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: C, text: 'json body', blocks: [{ type: 'divider' }] }),
    });
    expect([json.status, await json.json()]).toMatchObject([200, { ok: true, message: { text: 'json body' } }]);
    expect(fake.calls('chat.postMessage').at(-1)?.args).toEqual({
      channel: C,
      text: 'json body',
      blocks: [{ type: 'divider' }],
    });
    expect(fake.calls('auth.test')).toMatchObject([
      { token: fake.botToken, ok: true },
      { token: 'xoxb-wrong', ok: false, error: 'invalid_auth' },
    ]);
  });

  it('posts, threads and updates with increasing ts and an edit history', async () => {
    const clock = { now: T0 };
    const fake = await fakeSlack({ now: () => clock.now, postRate: { perSecond: 1, burst: 20 } });
    const web = client(fake);
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*queued*' } }];
    const parent = await web.chat.postMessage({ channel: C, text: 'Sending…', blocks });
    expect(parent).toMatchObject({ ok: true, channel: C, message: { text: 'Sending…', bot_id: fake.botId, blocks } });
    expect(parent.ts).toBe('1764158400.000000');
    const reply1 = await web.chat.postMessage({ channel: C, thread_ts: parent.ts ?? '', text: 'delivered' });
    const reply2 = await web.chat.postMessage({ channel: C, thread_ts: parent.ts ?? '', text: 'read' });
    expect(reply1.ts).toBe('1764158400.000100');
    expect(reply2.message).toMatchObject({ thread_ts: parent.ts, parent_user_id: fake.botUserId });
    expect(fake.thread(C, parent.ts ?? '').map((m) => m.text)).toEqual(['delivered', 'read']);
    expect(fake.calls('chat.postMessage')[0]?.args['blocks']).toEqual(blocks);

    clock.now += 1500;
    await expect(web.chat.update({ channel: C, ts: parent.ts ?? '', text: 'Sent ✓' })).resolves.toMatchObject({
      ok: true,
      ts: parent.ts,
      text: 'Sent ✓',
      message: { edited: { user: fake.botUserId } },
    });
    await web.chat.update({ channel: C, ts: parent.ts ?? '', text: 'Sent ✓✓', blocks: [] });
    const [stored] = fake.messages(C);
    expect(stored).toMatchObject({ text: 'Sent ✓✓', user: fake.botUserId });
    expect(stored).not.toHaveProperty('blocks');
    expect(stored?.edits).toEqual([
      { text: 'Sent ✓', blocks, at: T0 + 1500 },
      { text: 'Sent ✓✓', at: T0 + 1500 },
    ]);

    const human = fake.addMessage({ channel: C, text: 'hi from Jane' });
    expect(await slackError(web.chat.update({ channel: C, ts: human, text: 'x' }))).toBe('cant_update_message');
    expect(await slackError(web.chat.update({ channel: C, ts: '1.000000', text: 'x' }))).toBe('message_not_found');
    expect(await slackError(web.chat.postMessage({ channel: C, thread_ts: '1.000000', text: 'x' }))).toBe(
      'thread_not_found',
    );
    expect(await slackError(web.chat.postMessage({ channel: C, text: '' }))).toBe('no_text');
    expect(await slackError(web.chat.postMessage({ channel: C, text: 'x'.repeat(40_001) }))).toBe('msg_too_long');
    const tooMany = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    expect(await slackError(web.chat.postMessage({ channel: C, text: 'x', blocks: tooMany }))).toBe('invalid_blocks');
    await expect(web.chat.postMessage({ channel: C, thread_ts: human, text: 'reply to Jane' })).resolves.toMatchObject({
      ok: true,
    });
  });

  it('posts to a user id in the DM with the app, under a stable D id', async () => {
    const fake = await fakeSlack();
    fake.addUser({ id: 'U0AGENT002', name: 'bob', realName: 'Bob Agent', displayName: 'bob' });
    const web = client(fake);
    const first = await web.chat.postMessage({ channel: 'U0AGENT002', text: 'one' });
    const second = await web.chat.postMessage({ channel: 'U0AGENT002', text: 'two' });
    expect(first.channel).toMatch(/^D/);
    expect(second.channel).toBe(first.channel);
    expect(fake.dmChannelId('U0AGENT002')).toBe(first.channel);
    expect(fake.messages(first.channel).map((m) => m.text)).toEqual(['one', 'two']);
    expect(await slackError(web.chat.postMessage({ channel: 'U0NOBODY99', text: 'x' }))).toBe('channel_not_found');
    await expect(web.users.info({ user: 'U0AGENT002' })).resolves.toMatchObject({
      user: { id: 'U0AGENT002', name: 'bob', real_name: 'Bob Agent', is_bot: false, profile: { display_name: 'bob' } },
    });
    expect(await slackError(web.users.info({ user: 'U0NOBODY99' }))).toBe('user_not_found');
  });

  it('applies channel membership like Slack: chat:write.public only helps in public channels', async () => {
    const fake = await fakeSlack();
    fake.addChannel({ id: 'C0PUBLIC01', name: 'alerts', member: false });
    fake.addChannel({ id: 'G0PRIVATE1', name: 'secret', isPrivate: true, member: false });
    const web = client(fake);
    await expect(web.chat.postMessage({ channel: 'C0PUBLIC01', text: 'x' })).resolves.toMatchObject({ ok: true });
    await expect(web.chat.postMessage({ channel: '#alerts', text: 'by name' })).resolves.toMatchObject({
      channel: 'C0PUBLIC01',
    });
    expect(await slackError(web.chat.postMessage({ channel: 'G0PRIVATE1', text: 'x' }))).toBe('channel_not_found');
    expect(await slackError(web.chat.postMessage({ channel: 'C0MISSING1', text: 'x' }))).toBe('channel_not_found');
    fake.setMember('G0PRIVATE1', true);
    await expect(web.chat.postMessage({ channel: 'G0PRIVATE1', text: 'x' })).resolves.toMatchObject({ ok: true });

    const narrow = await fakeSlack({ scopes: ['commands', 'chat:write'] });
    narrow.addChannel({ id: 'C0PUBLIC01', name: 'alerts', member: false });
    const narrowWeb = client(narrow);
    expect(await slackError(narrowWeb.chat.postMessage({ channel: 'C0PUBLIC01', text: 'x' }))).toBe('not_in_channel');
    const missing: unknown = await narrowWeb.users.info({ user: USER }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(WebAPIPlatformError);
    expect((missing as WebAPIPlatformError).data).toMatchObject({
      error: 'missing_scope',
      needed: 'users:read',
      provided: 'commands,chat:write',
    });
  });

  it('posts ephemerals only to members of channels the bot can see', async () => {
    const fake = await fakeSlack();
    fake.addUser({ id: 'U0OUTSIDE1', name: 'eve' });
    fake.addChannel({ id: 'C0SMALL001', name: 'small', users: [USER] });
    fake.addChannel({ id: 'G0PRIVATE1', name: 'secret', isPrivate: true, member: false });
    const web = client(fake);
    const sent = await web.chat.postEphemeral({ channel: 'C0SMALL001', user: USER, text: 'only you' });
    expect(sent.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(fake.ephemerals()).toMatchObject([{ channel: 'C0SMALL001', user: USER, text: 'only you' }]);
    const outsider = web.chat.postEphemeral({ channel: 'C0SMALL001', user: 'U0OUTSIDE1', text: 'x' });
    expect(await slackError(outsider)).toBe('user_not_in_channel');
    const hidden = web.chat.postEphemeral({ channel: 'G0PRIVATE1', user: USER, text: 'x' });
    expect(await slackError(hidden)).toBe('channel_not_found');
  });

  it('rate-limits chat.postMessage per channel and chat.update per app with 429 + Retry-After', async () => {
    const clock = { now: T0 };
    const fake = await fakeSlack({ now: () => clock.now, updateRate: { perMinute: 2, burst: 2 } });
    fake.addChannel({ id: 'C0OTHER001', name: 'other' });
    const web = client(fake);
    for (let i = 0; i < 3; i += 1) await web.chat.postMessage({ channel: C, text: `burst ${i}` });
    const limited: unknown = await web.chat.postMessage({ channel: C, text: 'too fast' }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(WebAPIRateLimitedError);
    expect((limited as WebAPIRateLimitedError).retryAfter).toBe(1);
    await expect(web.chat.postMessage({ channel: 'C0OTHER001', text: 'other channel' })).resolves.toMatchObject({
      ok: true,
    });
    clock.now += 1000;
    const { ts } = await web.chat.postMessage({ channel: C, text: 'after a second' });
    expect(fake.rateLimited('chat.postMessage')).toBe(1);
    expect(fake.calls('chat.postMessage').filter((c) => c.status === 429)).toHaveLength(1);

    await web.chat.update({ channel: C, ts: ts ?? '', text: 'u1' });
    await web.chat.update({ channel: C, ts: ts ?? '', text: 'u2' });
    const updateLimited: unknown = await web.chat.update({ channel: C, ts: ts ?? '', text: 'u3' }).catch((e) => e);
    expect((updateLimited as WebAPIRateLimitedError).retryAfter).toBe(30);
    expect(fake.rateLimited()).toBe(2);
  });

  it('injects faults: errors, HTTP statuses, 429s and delays, for `times` calls', async () => {
    const fake = await fakeSlack();
    const web = client(fake);
    fake.fault('chat.postMessage', { error: 'fatal_error', times: 2 });
    expect(await slackError(web.chat.postMessage({ channel: C, text: 'a' }))).toBe('fatal_error');
    expect(await slackError(web.chat.postMessage({ channel: C, text: 'b' }))).toBe('fatal_error');
    await expect(web.chat.postMessage({ channel: C, text: 'c' })).resolves.toMatchObject({ ok: true });
    expect(fake.messages(C)).toHaveLength(1);

    fake.fault('chat.update', { status: 503 });
    await expect(web.chat.update({ channel: C, ts: '1.0', text: 'x' })).rejects.toBeInstanceOf(WebAPIHTTPError);
    fake.fault('*', { retryAfterSeconds: 7 });
    const limited: unknown = await web.users.info({ user: USER }).catch((e: unknown) => e);
    expect((limited as WebAPIRateLimitedError).retryAfter).toBe(7);
    expect(fake.rateLimited('users.info')).toBe(1);

    fake.fault('auth.test', { delayMs: 120 });
    const started = Date.now();
    await expect(web.auth.test()).resolves.toMatchObject({ ok: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('records views and rejects reused triggers and stale hashes', async () => {
    const fake = await fakeSlack();
    const web = client(fake);
    const view = { type: 'modal' as const, title: { type: 'plain_text' as const, text: 'Send template' }, blocks: [] };
    const opened = await web.views.open({ trigger_id: '1.2.abc', view });
    expect(opened.view).toMatchObject({ id: expect.stringMatching(/^V/), type: 'modal', hash: expect.any(String) });
    expect(await slackError(web.views.open({ trigger_id: '1.2.abc', view }))).toBe('exchanged_trigger_id');
    const id = opened.view?.id ?? '';
    const updated = await web.views.update({ view_id: id, hash: opened.view?.hash ?? '', view });
    expect(await slackError(web.views.update({ view_id: id, hash: opened.view?.hash ?? '', view }))).toBe(
      'hash_conflict',
    );
    expect(updated.view?.hash).not.toBe(opened.view?.hash);
    expect(fake.views().map((v) => v.method)).toEqual(['views.open', 'views.update']);
  });

  it('records response_url posts and refuses the sixth use', async () => {
    const clock = { now: T0 };
    const fake = await fakeSlack({ now: () => clock.now });
    const url = fake.responseUrl();
    expect(url).toMatch(new RegExp(`^${fake.url}/respond/`));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `update ${i}`, response_type: 'ephemeral' }),
      });
      statuses.push(res.status);
      expect(await res.text()).toBe(i < 5 ? 'ok' : 'used_url');
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
    const id = url.slice(`${fake.url}/respond/`.length);
    expect(fake.responses(id)[0]).toEqual({
      id,
      body: { text: 'update 0', response_type: 'ephemeral' },
      status: 200,
      at: T0,
    });

    const late = fake.responseUrl('late');
    clock.now += 31 * 60 * 1000;
    const res = await fetch(late, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect([res.status, await res.text()]).toEqual([404, 'expired_url']);
  });

  it('goes down and comes back on the same port', async () => {
    const fake = await fakeSlack();
    const web = client(fake);
    await fake.down();
    await expect(web.auth.test()).rejects.toBeInstanceOf(WebAPIRequestError);
    await fake.up();
    await expect(web.auth.test()).resolves.toMatchObject({ ok: true });
    await fake.down('unavailable');
    await expect(web.auth.test()).rejects.toBeInstanceOf(WebAPIHTTPError);
    await fake.up();
    await expect(web.auth.test()).resolves.toMatchObject({ ok: true });
  });

  it('waitFor resolves with the value and times out listing recent calls', async () => {
    const fake = await fakeSlack();
    const web = client(fake);
    setTimeout(() => void web.chat.postMessage({ channel: C, text: 'later' }), 20);
    await expect(fake.waitFor(() => fake.messages(C)[0])).resolves.toMatchObject({ text: 'later' });
    await expect(fake.waitFor(() => fake.messages(C).length > 1, 50)).rejects.toThrow(
      /within 50 ms[\s\S]*chat\.postMessage ok/,
    );
  });
});

describe('fake Slack Socket Mode with a real Bolt app', () => {
  it('delivers slash commands, interactions and events and returns the acks', async () => {
    const fake = await fakeSlack();
    const app = new App({
      socketMode: true,
      appToken: fake.appToken,
      token: fake.botToken,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
      logLevel: LogLevel.ERROR,
    });
    const retries: Array<number | undefined> = [];
    app.command('/whatsapp', async ({ ack, command }) => ack({ text: `hi ${command.text}` }));
    app.action('retry', async ({ ack }) => ack());
    app.event('app_mention', async ({ context }) => {
      retries.push(context.retryNum);
    });
    await app.start();
    cleanup.push(() => app.stop());
    await fake.socket.waitForConnection();
    expect(fake.calls('apps.connections.open')).toMatchObject([{ token: fake.appToken, ok: true }]);

    await expect(fake.socket.send('slash_commands', slashCommand({ text: 'send 42 x' }))).resolves.toEqual({
      text: 'hi send 42 x',
    });
    await expect(fake.socket.send('interactive', blockActions({ actionId: 'retry' }))).resolves.toEqual({});
    const event = {
      token: 'x',
      team_id: fake.teamId,
      api_app_id: fake.appId,
      type: 'event_callback',
      event_id: 'Ev0001',
      event_time: Math.floor(T0 / 1000),
      event: { type: 'app_mention', user: USER, text: `<@${fake.botUserId}> hi`, ts: '1.000100', channel: C },
    };
    await expect(fake.socket.send('events_api', event, { retryAttempt: 1, retryReason: 'timeout' })).resolves.toEqual(
      {},
    );
    await fake.waitFor(() => retries.length === 1);
    expect(retries).toEqual([1]);
    expect(fake.socket.envelopes().map((e) => e.type)).toEqual(['slash_commands', 'interactive', 'events_api']);
    await expect(
      fake.socket.send('interactive', blockActions({ actionId: 'unhandled' }), { timeoutMs: 100 }),
    ).rejects.toThrow(/no ack for interactive envelope .* within 100 ms/);
  });

  it('reconnects after a disconnect message with a fresh apps.connections.open', async () => {
    const fake = await fakeSlack();
    const receiver = new SocketModeReceiver({
      appToken: fake.appToken,
      clientPingTimeout: 150,
      installerOptions: { clientOptions: { slackApiUrl: fake.apiUrl } },
      logLevel: LogLevel.ERROR,
    });
    const app = new App({
      receiver,
      token: fake.botToken,
      clientOptions: { slackApiUrl: fake.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    app.command('/whatsapp', async ({ ack }) => ack({ text: 'still here' }));
    await app.start();
    cleanup.push(() => app.stop());
    await fake.socket.waitForConnection();
    fake.socket.disconnect('refresh_requested');
    await fake.socket.waitForConnection({ total: 2 });
    await fake.waitFor(() => fake.socket.connected() && fake.calls('apps.connections.open').length === 2);
    await expect(fake.socket.send('slash_commands', slashCommand({ text: '' }))).resolves.toEqual({
      text: 'still here',
    });
    expect(fake.socket.connections()).toBe(2);
  });
});

describe('signed HTTP requests to a real Bolt app', () => {
  it('accepts a signed command, rejects bad or stale signatures, and records respond()', async () => {
    const fake = await fakeSlack();
    const app = new App({
      token: fake.botToken,
      signingSecret: SECRET,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
      logLevel: LogLevel.ERROR,
    });
    app.command('/whatsapp', async ({ ack, respond }) => {
      await ack({ text: 'queued' });
      await respond({ text: 'sent', replace_original: false });
    });
    app.action('retry', async ({ ack }) => ack());
    const server = await app.start(0);
    cleanup.push(() => app.stop());
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;

    const responseUrl = fake.responseUrl('cmd-1');
    const body = formBody({ ...slashCommand({ text: 'send 42 hello', response_url: responseUrl }) });
    const ok = await postSigned(endpoint, body, { secret: SECRET });
    expect([ok.status, await ok.json()]).toEqual([200, { text: 'queued' }]);
    await expect(fake.waitFor(() => fake.responses('cmd-1')[0]?.body)).resolves.toEqual({
      text: 'sent',
      replace_original: false,
    });

    const bad = await postSigned(endpoint, body, { secret: SECRET, signature: `v0=${'0'.repeat(64)}` });
    expect(bad.status).toBe(401);
    const stale = await postSigned(endpoint, body, {
      secret: SECRET,
      timestampSeconds: Math.floor(Date.now() / 1000) - 301,
    });
    expect(stale.status).toBe(401);
    const charset = 'application/x-www-form-urlencoded; charset=utf-8';
    expect((await postSigned(endpoint, body, { secret: SECRET, contentType: charset })).status).toBe(400);
    const click = await postSigned(endpoint, interactiveBody(blockActions({ actionId: 'retry' })), { secret: SECRET });
    expect(click.status).toBe(200);
  });
});
