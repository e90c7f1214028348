import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { describe, expect, test } from 'vitest';
import { type CallOptions, createChatwootClient } from '../../src/chatwoot/client.ts';
import {
  ChatwootBusyError,
  ChatwootError,
  ChatwootNetworkError,
  ChatwootNotFoundError,
  ChatwootRateLimitedError,
  ChatwootRejectedError,
  ChatwootResponseError,
  ChatwootServerError,
  ChatwootTimeoutError,
  ChatwootUnauthorizedError,
} from '../../src/chatwoot/errors.ts';
import { createRequestBudget } from '../../src/chatwoot/request-budget.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { createLogSink } from '../helpers/log-sink.ts';
import { conversationJson, messageJson } from './fixtures.ts';

const BASE = 'https://cw.test';
const TOKEN = 'tok-secret-123';
const send: CallOptions = { lane: 'send' };

function setup(options: { timeoutMs?: number; maxAttempts?: number; maxTotalMs?: number } = {}) {
  const clock = createFakeClock({ autoAdvance: true });
  const log = createLogSink('debug');
  const budget = createRequestBudget({ requestsPerMinute: 60_000, concurrency: 4, clock, logger: log.logger });
  const client = createChatwootClient({
    baseUrl: BASE,
    apiAccessToken: TOKEN,
    accountId: 1,
    timeoutMs: options.timeoutMs ?? 1_000,
    budget,
    clock,
    logger: log.logger,
    random: () => 0.5,
    retry: { maxAttempts: options.maxAttempts ?? 5, maxTotalMs: options.maxTotalMs ?? 90_000 },
  });
  const api = nock(BASE, { reqheaders: { api_access_token: TOKEN } });
  return { clock, log, budget, client, api };
}

async function failure(promise: Promise<unknown>): Promise<ChatwootError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ChatwootError)) throw new Error(`expected a ChatwootError, got ${String(error)}`);
  expect(error.message).not.toContain(TOKEN);
  return error;
}

/** nock needs an Error instance (a plain object makes fetch hang); undici puts the code on the cause like this. */
function networkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const conversationPath = '/api/v1/accounts/1/conversations/57';
const messagesPath = `${conversationPath}/messages`;

describe('requests', () => {
  test('reads a conversation with the token header and keeps only the fields the bridge uses', async () => {
    const { client, api } = setup();
    api.get(conversationPath).reply(200, conversationJson({ id: 57 }));
    const conversation = await client.getConversation(57, send);
    expect(conversation).toMatchObject({ id: 57, inbox_id: 3, status: 'open', can_reply: true });
    expect(conversation.meta.sender).toMatchObject({ id: 11, name: 'Jane Doe', phone_number: '+14155550123' });
    expect(api.isDone()).toBe(true);
  });

  test('posts an outgoing message with the marker in content_attributes and nothing else', async () => {
    const { client, api } = setup();
    api
      .post(messagesPath, {
        content: '**Hello**',
        message_type: 'outgoing',
        private: false,
        content_attributes: { slack_whatsapp_bridge: 'sabc/0' },
      })
      .reply(200, messageJson({ id: 4821, content: '**Hello**' }));
    const message = await client.createMessage(
      57,
      { content: '**Hello**', contentAttributes: { slack_whatsapp_bridge: 'sabc/0' } },
      send,
    );
    expect(message).toMatchObject({ id: 4821, status: 'sent', source_id: undefined, message_type: 1 });
  });

  test('filters conversations by inbox, WhatsApp id and every status', async () => {
    const { client, api } = setup();
    api
      .get('/api/v1/accounts/1/conversations')
      .query({ status: 'all', inbox_id: '3', source_id: '14155550123' })
      .reply(200, { data: { meta: { all_count: 1 }, payload: [conversationJson({ id: 57 })] } });
    const found = await client.listConversations({ inboxId: 3, sourceId: '14155550123', status: 'all' }, send);
    expect(found.map((conversation) => conversation.id)).toEqual([57]);
  });

  test('searches contacts with the + of a phone number percent-encoded', async () => {
    const { client, api } = setup();
    api
      .get('/api/v1/accounts/1/contacts/search?q=%2B14155550123')
      .reply(200, { meta: { count: 0, current_page: 1, has_more: false }, payload: [] });
    expect(await client.searchContacts('+14155550123', 1, send)).toEqual({ contacts: [], hasMore: false });
  });

  test('asks for a range of messages with after and before', async () => {
    const { client, api } = setup();
    api
      .get(messagesPath)
      .query({ after: '4820', before: '4830' })
      .reply(200, { meta: {}, payload: [messageJson({ id: 4821 })] });
    const messages = await client.listMessages(57, { after: 4820, before: 4830 }, send);
    expect(messages.map((message) => message.id)).toEqual([4821]);
  });
});

describe('errors', () => {
  const unauthorized = [
    {
      body: { errors: ['You need to sign in or sign up before continuing.'] },
      reason: 'missing_token',
      advice: /underscores_in_headers/,
    },
    { body: { error: 'Invalid Access Token' }, reason: 'invalid_token', advice: /Profile settings → Access token/ },
    { body: { error: 'Access to this endpoint is not authorized for bots' }, reason: 'bot_token', advice: /Agent Bot/ },
    {
      body: { error: 'You are not authorized to access this account' },
      reason: 'not_in_account',
      advice: /CHATWOOT_ACCOUNT_ID/,
    },
    { body: { error: 'You are not authorized to do this action' }, reason: 'forbidden_action', advice: /inbox/ },
    { body: { error: 'Account is suspended' }, reason: 'account_suspended', advice: /suspended/ },
  ] as const;

  test.each(unauthorized)(
    'explains a 401 caused by $reason and does not retry it',
    async ({ body, reason, advice }) => {
      const { client, api } = setup();
      api.get(conversationPath).once().reply(401, body);
      const error = await failure(client.getConversation(57, send));
      expect(error).toBeInstanceOf(ChatwootUnauthorizedError);
      expect((error as ChatwootUnauthorizedError).reason).toBe(reason);
      expect(error.advice).toMatch(advice);
      expect(error.message).toContain('401 GET /api/v1/accounts/1/conversations/57');
    },
  );

  test('names the missing conversation and account on a 404, without retrying', async () => {
    const { client, api } = setup();
    api.get(conversationPath).once().reply(404, { error: 'Resource could not be found' });
    const error = await failure(client.getConversation(57, send));
    expect(error).toBeInstanceOf(ChatwootNotFoundError);
    expect(error.message).toMatch(/^Chatwoot has no conversation 57 in account 1 \(404 GET/);
  });

  test("passes Chatwoot's own 422 message on, without retrying", async () => {
    const { client, api } = setup();
    api
      .post(messagesPath)
      .once()
      .reply(422, { error: 'Validation failed: Content is too long (maximum is 150000 characters)' });
    const error = await failure(client.createMessage(57, { content: 'x' }, send));
    expect(error).toBeInstanceOf(ChatwootRejectedError);
    expect((error as ChatwootRejectedError).chatwootMessage).toBe(
      'Validation failed: Content is too long (maximum is 150000 characters)',
    );
    expect(error.ambiguous).toBe(false);
  });

  test("treats Chatwoot's per-conversation flood limit as a rate limit, not a rejection", async () => {
    const { client, api } = setup();
    api.post(messagesPath).once().reply(422, { error: 'Validation failed: Too many messages' });
    const error = await failure(client.createMessage(57, { content: 'x' }, { lane: 'send', retry: false }));
    expect(error).toBeInstanceOf(ChatwootRateLimitedError);
    expect((error as ChatwootRateLimitedError).scope).toBe('conversation');
  });

  test('turns a 200 that is not the expected JSON into a clear error naming the field', async () => {
    const { client, api } = setup();
    api.get(conversationPath).reply(200, { id: 57, inbox_id: 3, status: 'open', meta: {} });
    const error = await failure(client.getConversation(57, send));
    expect(error).toBeInstanceOf(ChatwootResponseError);
    expect(error.message).toContain('meta.sender');
  });

  test('recognises a login page served instead of the API', async () => {
    const { client, api } = setup();
    api.get(conversationPath).reply(200, '<html>Sign in</html>', { 'content-type': 'text/html' });
    const error = await failure(client.getConversation(57, send));
    expect(error).toBeInstanceOf(ChatwootResponseError);
    expect(error.advice).toContain('CHATWOOT_BASE_URL');
  });
});

describe('retries', () => {
  test("waits for the server's next minute after a plain-text 429 and pauses every request meanwhile", async () => {
    const { client, api, clock, budget } = setup();
    api
      .get(conversationPath)
      .reply(429, 'Retry later\n', { 'content-type': 'text/plain', date: 'Thu, 26 Nov 2026 12:00:10 GMT' })
      .get(conversationPath)
      .reply(200, conversationJson({ id: 57 }));
    const pausedDuring: Array<number | undefined> = [];
    const originalSleep = clock.sleep;
    clock.sleep = (ms, signal) => {
      pausedDuring.push(budget.stats().pausedUntil);
      return originalSleep(ms, signal);
    };
    await client.getConversation(57, send);
    // 50 s to 12:01:00 on the server's clock, +1 s for the Date header's resolution, +1 s of jitter (random 0.5).
    expect(clock.sleeps).toContain(52_000);
    expect(pausedDuring.some((until) => until !== undefined)).toBe(true);
    expect(api.isDone()).toBe(true);
  });

  test('backs off exponentially with jitter on 5xx for reads, then succeeds', async () => {
    const { client, api, clock } = setup();
    api
      .get(conversationPath)
      .reply(502, '<html>Bad Gateway</html>', { 'content-type': 'text/html' })
      .get(conversationPath)
      .reply(503)
      .get(conversationPath)
      .reply(200, conversationJson({ id: 57 }));
    await client.getConversation(57, send);
    // backoff: random in [d/2, d] with d = 500·2^(n-1); random 0.5 → 375, then 750.
    expect(clock.sleeps).toEqual([375, 750]);
  });

  test('gives up after the configured number of attempts', async () => {
    const { client, api } = setup({ maxAttempts: 3 });
    api.get(conversationPath).times(3).reply(500, { error: 'boom' });
    const error = await failure(client.getConversation(57, send));
    expect(error).toBeInstanceOf(ChatwootServerError);
    expect(api.isDone()).toBe(true);
  });

  test('gives up when the next wait would pass the total time allowed', async () => {
    const { client, api, clock } = setup({ maxTotalMs: 1_000 });
    api.get(conversationPath).times(3).reply(500, { error: 'boom' });
    await failure(client.getConversation(57, send));
    expect(clock.sleeps).toEqual([375]);
    expect(nock.pendingMocks()).toHaveLength(1);
  });

  test('never repeats a message post that failed with a 5xx: Chatwoot may have stored it', async () => {
    const { client, api } = setup();
    api.post(messagesPath).once().reply(504, '<html>Gateway Time-out</html>', { 'content-type': 'text/html' });
    const error = await failure(client.createMessage(57, { content: 'x' }, send));
    expect(error).toBeInstanceOf(ChatwootServerError);
    expect(error.ambiguous).toBe(true);
  });

  test('marks a reset connection during a post as ambiguous', async () => {
    const { client, api } = setup();
    api.post(messagesPath).once().replyWithError(networkError('ECONNRESET', 'socket hang up'));
    const error = await failure(client.createMessage(57, { content: 'x' }, send));
    expect(error).toBeInstanceOf(ChatwootNetworkError);
    expect(error.ambiguous).toBe(true);
  });

  test('knows a refused connection stored nothing', async () => {
    const { client, api } = setup();
    api.post(messagesPath).once().replyWithError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:443'));
    const error = await failure(client.createMessage(57, { content: 'x' }, { lane: 'send', retry: false }));
    expect(error).toBeInstanceOf(ChatwootNetworkError);
    expect((error as ChatwootNetworkError).networkCode).toBe('ECONNREFUSED');
    expect(error.ambiguous).toBe(false);
  });

  /** A real socket that accepts requests and never answers (nock's delay does not honour fetch's abort). */
  async function silentChatwoot(timeoutMs: number) {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolveListen) => silent.listen(0, '127.0.0.1', resolveListen));
    const { port } = silent.address() as AddressInfo;
    const clock = createFakeClock({ autoAdvance: true });
    const log = createLogSink();
    const client = createChatwootClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiAccessToken: TOKEN,
      accountId: 1,
      timeoutMs,
      budget: createRequestBudget({ requestsPerMinute: 60_000, concurrency: 4, clock, logger: log.logger }),
      clock,
      logger: log.logger,
    });
    const close = async () => {
      silent.closeAllConnections();
      await new Promise((resolveClose) => silent.close(resolveClose));
    };
    return { client, close };
  }

  test('times out a request that does not answer, marking a post ambiguous', async () => {
    const { client, close } = await silentChatwoot(150);
    try {
      const error = await failure(client.createMessage(57, { content: 'x' }, send));
      expect(error).toBeInstanceOf(ChatwootTimeoutError);
      expect(error.ambiguous).toBe(true);
      expect(error.message).toMatch(
        /^Chatwoot did not answer within 150 ms \(POST \/api\/v1\/accounts\/1\/conversations\/57\/messages\)/,
      );
    } finally {
      await close();
    }
  });

  test('gives an interactive request up at its deadline instead of queueing or retrying', async () => {
    const { client, close } = await silentChatwoot(5_000);
    try {
      const started = Date.now();
      const error = await failure(client.getConversation(57, { lane: 'interactive', deadlineMs: 150 }));
      expect(error).toBeInstanceOf(ChatwootBusyError);
      expect(Date.now() - started).toBeLessThan(900);
    } finally {
      await close();
    }
  });
});

describe('logging', () => {
  test('logs requests and failures without the token', async () => {
    const { client, api, log } = setup();
    api
      .get(conversationPath)
      .reply(500, { error: 'x' })
      .get(conversationPath)
      .reply(200, conversationJson({ id: 57 }));
    await client.getConversation(57, send);
    expect(log.text()).not.toContain(TOKEN);
    expect(log.lines().map((entry) => entry['msg'])).toEqual(['chatwoot request failed', 'chatwoot request ok']);
  });
});
