import { LogLevel, WebClient } from '@slack/web-api';
import nock from 'nock';
import { describe, expect, test } from 'vitest';
import { type SlackCall, SlackCallError, type SlackMethod, slackCallFrom } from '../../src/slack/slack-call.ts';
import { createSlackPoster, type SlackPosterOptions } from '../../src/slack/slack-poster.ts';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.ts';
import { createLogSink } from '../helpers/log-sink.ts';

interface Made {
  readonly method: SlackMethod;
  readonly args: Record<string, unknown>;
  readonly at: number;
}

/** Lets pending promise callbacks and microtasks run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Moves a manual fake clock forward in steps, letting the poster react after each. */
async function run(clock: FakeClock, ms: number, step = 50): Promise<void> {
  await tick();
  for (let elapsed = 0; elapsed < ms; elapsed += step) {
    clock.advance(step);
    await tick();
  }
}

/**
 * A fake Web API that records every call. `fail` may throw for a call (by its index among all calls); otherwise
 * posts answer with a fresh ts.
 */
function fakeSlack(clock: FakeClock, fail?: (made: Made, index: number) => SlackCallError | undefined) {
  const made: Made[] = [];
  const call: SlackCall = async (method, args) => {
    const entry = { method, args, at: clock.now() };
    made.push(entry);
    const failure = fail?.(entry, made.length - 1);
    if (failure !== undefined) throw failure;
    return method === 'chat.postMessage'
      ? { ok: true, channel: args['channel'], ts: `${made.length}.0001` }
      : { ok: true };
  };
  return { made, call };
}

/** Slack's limits as a token bucket per key: a call past it is refused with a 429, as Slack does. */
function limiter(clock: FakeClock, intervalMs: number, burst: number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let refused = 0;
  return {
    refused: () => refused,
    check: (key: string): SlackCallError | undefined => {
      const now = clock.now();
      const bucket = buckets.get(key) ?? { tokens: burst, at: now };
      const tokens = Math.min(burst, bucket.tokens + (now - bucket.at) / intervalMs);
      if (tokens < 1) {
        refused += 1;
        return new SlackCallError('ratelimited', { retryAfterMs: 1000 });
      }
      buckets.set(key, { tokens: tokens - 1, at: now });
      return undefined;
    },
  };
}

function setup(options: Partial<SlackPosterOptions> & { clock: FakeClock; call: SlackCall }) {
  const sink = createLogSink();
  const poster = createSlackPoster({ logger: sink.logger, random: () => 0, ...options });
  return { poster, sink };
}

/** Marks a promise handled now (it may reject while the test is still moving the clock); the test awaits it later. */
function later<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

const texts = (made: readonly Made[]) => made.map((entry) => entry.args['text']);

describe('slack poster: order and spacing', () => {
  test('posts into one channel in order and spaced; other channels do not wait', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock);
    const { poster } = setup({ clock, call: slack.call });
    const posted = ['a1', 'a2', 'a3'].map((text) => poster.post('A', () => ({ text })));
    const other = poster.post('B', () => ({ text: 'b1' }));
    await run(clock, 2_500);
    await Promise.all([...posted, other]);
    const inA = slack.made.filter((entry) => entry.args['channel'] === 'A');
    expect(texts(inA)).toEqual(['a1', 'a2', 'a3']);
    expect(inA.map((entry) => entry.at)).toEqual([0, 1100, 2200]);
    expect(slack.made.find((entry) => entry.args['channel'] === 'B')?.at).toBe(0);
    await expect(posted[0]).resolves.toEqual({ channel: 'A', ts: '1.0001' });
  });

  test('a higher priority post goes ahead of queued ones in its channel', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock);
    const { poster } = setup({ clock, call: slack.call });
    const all = [
      poster.post('A', () => ({ text: 'later1' })),
      poster.post('A', () => ({ text: 'later2' })),
      poster.post('A', () => ({ text: 'later3' })),
    ];
    await run(clock, 100);
    all.push(poster.post('A', () => ({ text: 'root' }), { priority: 1 }));
    await run(clock, 4_000);
    await Promise.all(all);
    expect(texts(slack.made)).toEqual(['later1', 'root', 'later2', 'later3']);
  });

  test('updates, however many, never delay a post that is due', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock);
    const { poster } = setup({ clock, call: slack.call });
    const updates = Array.from({ length: 30 }, (_, index) => poster.update('A', `${index}.1`, () => ({ text: 'u' })));
    await run(clock, 100);
    const post = poster.post('A', () => ({ text: 'new' }));
    await run(clock, 100);
    await post;
    expect(slack.made.find((entry) => entry.method === 'chat.postMessage')?.at).toBe(100);
    await run(clock, 40_000, 500);
    await Promise.all(updates);
  });

  test('a burst of 50 posts into one channel causes no 429 from a Slack that enforces the limit', async () => {
    const clock = createFakeClock({ start: 0, autoAdvance: true });
    const slackLimit = limiter(clock, 1000, 1);
    const slack = fakeSlack(clock, (made) => slackLimit.check(`post:${String(made.args['channel'])}`));
    const { poster } = setup({ clock, call: slack.call });
    const posts = Array.from({ length: 50 }, (_, index) => poster.post('A', () => ({ text: `m${index}` })));
    await Promise.all(posts);
    expect(slackLimit.refused()).toBe(0);
    expect(poster.stats().rateLimited).toBe(0);
    expect(texts(slack.made)).toEqual(Array.from({ length: 50 }, (_, index) => `m${index}`));
    const gaps = slack.made.slice(1).map((entry, index) => entry.at - (slack.made[index]?.at ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1100);
  });

  test('a burst of 80 updates of different messages stays under the workspace limit', async () => {
    const clock = createFakeClock({ start: 0, autoAdvance: true });
    const slackLimit = limiter(clock, 1200, 5);
    const slack = fakeSlack(clock, () => slackLimit.check('update'));
    const { poster } = setup({ clock, call: slack.call });
    await Promise.all(
      Array.from({ length: 80 }, (_, index) => poster.update('A', `${index}.1`, () => ({ text: 'x' }))),
    );
    expect(slackLimit.refused()).toBe(0);
    expect(slack.made).toHaveLength(80);
    // Any minute sees at most the burst plus one update per 1.2 s.
    for (const entry of slack.made) {
      const inMinute = slack.made.filter((other) => other.at >= entry.at && other.at < entry.at + 60_000);
      expect(inMinute.length).toBeLessThanOrEqual(55);
    }
  });
});

describe('slack poster: merging updates', () => {
  test('20 updates of one message while the update lane is busy make at most 2 calls, with the latest text', async () => {
    const clock = createFakeClock({ start: 0 });
    const release = Promise.withResolvers<void>();
    const slack = fakeSlack(clock);
    const call: SlackCall = async (method, args) => {
      if (slack.made.length === 0) {
        const result = slack.call(method, args);
        await release.promise;
        return result;
      }
      return slack.call(method, args);
    };
    const { poster } = setup({ clock, call });
    let state = 0;
    let renders = 0;
    const render = () => {
      renders += 1;
      return { text: `v${state}` };
    };
    state = 1;
    const updates = [poster.update('A', '1.1', render)];
    await run(clock, 10, 10);
    expect(poster.stats().inFlight).toBe(1);
    for (let index = 2; index <= 20; index += 1) {
      state = index;
      updates.push(poster.update('A', '1.1', render));
    }
    expect(poster.stats().queued).toBe(1);
    release.resolve();
    await run(clock, 2_000);
    await Promise.all(updates);
    expect(texts(slack.made)).toEqual(['v1', 'v20']);
    expect(renders).toBe(2);
    expect(slack.made.every((entry) => entry.args['ts'] === '1.1' && entry.method === 'chat.update')).toBe(true);
  });

  test('updates queued in one go merge into one call; other messages keep their own', async () => {
    const clock = createFakeClock({ start: 0, autoAdvance: true });
    const slack = fakeSlack(clock);
    const { poster } = setup({ clock, call: slack.call });
    const first = Array.from({ length: 20 }, (_, index) => poster.update('A', '1.1', () => ({ text: `a${index}` })));
    const second = poster.update('A', '2.1', () => ({ text: 'b' }));
    await Promise.all([...first, second]);
    expect(slack.made.map((entry) => [entry.args['ts'], entry.args['text']])).toEqual([
      ['1.1', 'a19'],
      ['2.1', 'b'],
    ]);
  });
});

describe('slack poster: 429 and failures', () => {
  test('a 429 pauses that channel for Retry-After and retries the same post; other channels go on', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock, (_made, index) =>
      index === 0 ? new SlackCallError('ratelimited', { retryAfterMs: 3_000 }) : undefined,
    );
    const { poster, sink } = setup({ clock, call: slack.call });
    const first = poster.post('A', () => ({ text: 'secret customer text' }));
    const next = poster.post('A', () => ({ text: 'second' }));
    await run(clock, 100);
    const elsewhere = poster.post('B', () => ({ text: 'b' }));
    await run(clock, 5_000);
    await Promise.all([first, next, elsewhere]);
    expect(slack.made.map((entry) => [entry.args['text'], entry.at])).toEqual([
      ['secret customer text', 0],
      ['b', 100],
      ['secret customer text', 3_000],
      ['second', 4_100],
    ]);
    expect(poster.stats().rateLimited).toBe(1);
    const warning = sink.lines().find((line) => line['level'] === 40);
    expect(warning).toMatchObject({ method: 'chat.postMessage', channel: 'A', retryAfterMs: 3_000 });
    expect(sink.text()).not.toContain('secret');
  });

  test('a 429 on an update pauses every update, 1 s when Slack gives no Retry-After, and is never dropped', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock, (made, index) =>
      index < 3 && made.method === 'chat.update' ? new SlackCallError('ratelimited') : undefined,
    );
    const { poster } = setup({ clock, call: slack.call, random: () => 0.5 });
    const updates = [
      poster.update('A', '1.1', () => ({ text: 'x' })),
      poster.update('B', '2.1', () => ({ text: 'y' })),
    ];
    await run(clock, 5_000, 25);
    await Promise.all(updates);
    // Each 429 pauses for 1000 ms plus 125 ms of jitter; the second message waits behind the first.
    expect(slack.made.map((entry) => [entry.args['ts'], entry.at])).toEqual([
      ['1.1', 0],
      ['1.1', 1125],
      ['1.1', 2250],
      ['1.1', 3375],
      ['2.1', 3375],
    ]);
    expect(poster.stats().rateLimited).toBe(3);
  });

  test('transient errors retry with growing backoff, then succeed', async () => {
    const clock = createFakeClock({ start: 0, autoAdvance: true });
    const slack = fakeSlack(clock, (_made, index) =>
      index < 3 ? new SlackCallError(index === 1 ? 'request_failed' : 'http_503') : undefined,
    );
    const { poster, sink } = setup({ clock, call: slack.call, random: () => 1 });
    await expect(poster.post('A', () => ({ text: 'hello' }))).resolves.toMatchObject({ channel: 'A' });
    // Backoff 1 s, 2 s, 4 s; the first retry also waits for the channel's 1.1 s spacing.
    expect(slack.made.map((entry) => entry.at)).toEqual([0, 1_100, 3_100, 7_100]);
    const warnings = sink.lines().filter((line) => line['level'] === 40);
    expect(warnings.map((line) => line['retryAfterMs'])).toEqual([1_000, 2_000, 4_000]);
    expect(warnings[0]).toMatchObject({ method: 'chat.postMessage', channel: 'A', code: 'http_503' });
    expect(sink.text()).not.toContain('hello');
  });

  test('transient errors give up after giveUpAfterMs with the error, and the lane goes on', async () => {
    const clock = createFakeClock({ start: 0, autoAdvance: true });
    const slack = fakeSlack(clock, (made) =>
      made.args['text'] === 'doomed' ? new SlackCallError('http_500') : undefined,
    );
    const { poster } = setup({ clock, call: slack.call, random: () => 1 });
    const doomed = later(poster.post('A', () => ({ text: 'doomed' })));
    const next = poster.post('A', () => ({ text: 'fine' }));
    await expect(doomed).rejects.toMatchObject({ code: 'http_500', transient: true });
    const attempts = slack.made.filter((entry) => entry.args['text'] === 'doomed');
    // 1.1 (spacing), 2, 4 … 32 s, then 60 s steps; the last wait is cut so the last attempt is made at 15 minutes.
    expect(attempts.at(-1)?.at).toBe(15 * 60_000);
    expect(attempts.length).toBe(21);
    await expect(next).resolves.toMatchObject({ channel: 'A' });
  });

  test('platform errors reject at once, and the next item in the lane is not held up', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock, (made) =>
      made.args['text'] === 'bad' ? new SlackCallError('not_in_channel') : undefined,
    );
    const { poster } = setup({ clock, call: slack.call });
    const bad = later(poster.post('A', () => ({ text: 'bad' })));
    const good = poster.post('A', () => ({ text: 'good' }));
    const broken = later(
      poster.post('A', () => {
        throw new Error('render failed');
      }),
    );
    const last = poster.post('A', () => ({ text: 'last' }));
    await run(clock, 50);
    await expect(bad).rejects.toMatchObject({ code: 'not_in_channel', transient: false });
    expect(slack.made).toHaveLength(1);
    await run(clock, 3_000);
    await expect(good).resolves.toMatchObject({ channel: 'A' });
    await expect(broken).rejects.toThrow('render failed');
    await last;
    expect(slack.made.map((entry) => [entry.args['text'], entry.at])).toEqual([
      ['bad', 0],
      ['good', 1_100],
      ['last', 2_200],
    ]);
  });

  test('update errors such as message_not_found reject at once for every merged caller', async () => {
    const clock = createFakeClock({ start: 0, autoAdvance: true });
    const slack = fakeSlack(clock, () => new SlackCallError('message_not_found'));
    const { poster } = setup({ clock, call: slack.call });
    const updates = [1, 2, 3].map(() => later(poster.update('A', '9.9', () => ({ text: 'x' }))));
    for (const update of updates) await expect(update).rejects.toMatchObject({ code: 'message_not_found' });
    expect(slack.made).toHaveLength(1);
  });
});

describe('slack poster: callers, memory and shutdown', () => {
  test('post() returns at once; render runs later, when the post is made', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock);
    const { poster } = setup({ clock, call: slack.call });
    let rendered = 0;
    const render = () => {
      rendered += 1;
      return { text: 'x', thread_ts: '1.1', unfurl_links: false };
    };
    const posted = poster.post('A', render);
    const ephemeral = poster.ephemeral('A', 'U1', render);
    expect(rendered).toBe(0);
    expect(slack.made).toHaveLength(0);
    expect(poster.stats()).toMatchObject({ queued: 2, inFlight: 0 });
    await run(clock, 1_200);
    await Promise.all([posted, ephemeral]);
    // The ephemeral, queued second, goes first: a person is waiting for it.
    expect(slack.made[0]).toMatchObject({ method: 'chat.postEphemeral', at: 0, args: { channel: 'A', user: 'U1' } });
    expect(slack.made[1]?.args).toEqual({ text: 'x', thread_ts: '1.1', unfurl_links: false, channel: 'A' });
    expect(slack.made[1]?.at).toBe(1_100);
  });

  test('lanes and their timers are released once idle, after thousands of channels', async () => {
    const base = createFakeClock({ start: 0 });
    let pendingSleeps = 0;
    const clock: FakeClock = {
      ...base,
      sleep: (ms, signal) => {
        pendingSleeps += 1;
        return base.sleep(ms, signal).finally(() => {
          pendingSleeps -= 1;
        });
      },
    };
    const slack = fakeSlack(base);
    const { poster } = setup({ clock, call: slack.call });
    const posts = Array.from({ length: 3_000 }, (_, index) => poster.post(`C${index}`, () => ({ text: 'x' })));
    const updates = Array.from({ length: 3 }, (_, index) => poster.update('C1', `${index}.1`, () => ({ text: 'y' })));
    await run(clock, 100);
    await Promise.all([...posts, ...updates]);
    expect(poster.stats().lanes).toBe(3_001);
    // Post lanes go once their bucket refills (1.1 s), the update lane once its 3 used tokens are back (3.6 s).
    await run(clock, 1_100);
    expect(poster.stats().lanes).toBe(1);
    await run(clock, 2_600);
    expect(poster.stats()).toEqual({ queued: 0, inFlight: 0, rateLimited: 0, lanes: 0 });
    expect(pendingSleeps).toBe(0);
    // A post after release still respects spacing from a fresh, full bucket.
    const again = poster.post('C1', () => ({ text: 'again' }));
    await run(clock, 50);
    await again;
    expect(slack.made.at(-1)?.at).toBe(3_800);
  });

  test('a post right after an idle lane was kept waits for its spacing, then the lane is woken', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock);
    const { poster } = setup({ clock, call: slack.call, postBurst: 2 });
    const posts = [poster.post('A', () => ({ text: '1' })), poster.post('A', () => ({ text: '2' }))];
    await run(clock, 200);
    await Promise.all(posts);
    // Burst of 2 used up; the lane stays (refilling) and a new post waits for a token, not for a full bucket.
    posts.push(poster.post('A', () => ({ text: '3' })));
    await run(clock, 2_000);
    await Promise.all(posts);
    expect(slack.made.map((entry) => entry.at)).toEqual([0, 0, 1_100]);
  });

  test('drain waits for queued work, or for its timeout', async () => {
    const clock = createFakeClock({ start: 0 });
    const hang = Promise.withResolvers<Record<string, unknown>>();
    const { poster } = setup({ clock, call: () => hang.promise });
    const post = poster.post('A', () => ({ text: 'x' }));
    let drained = false;
    const drain = poster.drain(5_000).then(() => {
      drained = true;
    });
    await run(clock, 4_900);
    expect(drained).toBe(false);
    await run(clock, 200);
    expect(drained).toBe(true);
    await drain;
    const full = poster.drain();
    hang.resolve({ ok: true, channel: 'A', ts: '5.5' });
    await full;
    await expect(post).resolves.toEqual({ channel: 'A', ts: '5.5' });
  });

  test('close rejects queued work with shutting_down, and anything after', async () => {
    const clock = createFakeClock({ start: 0 });
    const slack = fakeSlack(clock);
    const { poster } = setup({ clock, call: slack.call });
    const first = poster.post('A', () => ({ text: '1' }));
    const queued = later(poster.post('A', () => ({ text: '2' })));
    const update = poster.update('A', '1.1', () => ({ text: 'u' }));
    await run(clock, 50);
    poster.close();
    await expect(first).resolves.toMatchObject({ channel: 'A' });
    await update;
    await expect(queued).rejects.toMatchObject({ code: 'shutting_down' });
    await expect(poster.post('A', () => ({ text: '3' }))).rejects.toBeInstanceOf(SlackCallError);
    await poster.drain();
    expect(poster.stats()).toMatchObject({ queued: 0, inFlight: 0, lanes: 0 });
  });
});

describe('slackCallFrom', () => {
  const client = () =>
    new WebClient('xoxb-test', {
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
  const api = () => nock('https://slack.com');

  test('returns the body of a successful call', async () => {
    api().post('/api/chat.postMessage').reply(200, { ok: true, channel: 'C1', ts: '1.2' });
    await expect(slackCallFrom(client())('chat.postMessage', { channel: 'C1', text: 'x' })).resolves.toMatchObject({
      ok: true,
      ts: '1.2',
    });
  });

  test.each([
    ['platform error', { status: 200, body: { ok: false, error: 'not_in_channel' } }, 'not_in_channel', false],
    ['platform rate_limited', { status: 200, body: { ok: false, error: 'rate_limited' } }, 'ratelimited', true],
    ['platform internal_error', { status: 200, body: { ok: false, error: 'internal_error' } }, 'internal_error', true],
    ['HTTP 500', { status: 500, body: {} }, 'http_500', true],
    ['HTTP 404', { status: 404, body: {} }, 'http_404', false],
  ])('maps a %s', async (_name, reply, code, transient) => {
    api().post('/api/chat.update').reply(reply.status, reply.body);
    const failure = await slackCallFrom(client())('chat.update', { channel: 'C1', ts: '1.2', text: 'x' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SlackCallError);
    expect(failure).toMatchObject({ code, transient });
  });

  test('maps a 429 with its Retry-After', async () => {
    api().post('/api/chat.postMessage').reply(429, {}, { 'Retry-After': '7' });
    const failure = await slackCallFrom(client())('chat.postMessage', { channel: 'C1', text: 'x' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'ratelimited', retryAfterMs: 7_000, transient: true });
  });

  test('maps a network failure to request_failed', async () => {
    api().post('/api/chat.postMessage').replyWithError('socket hang up');
    const failure = await slackCallFrom(client())('chat.postMessage', { channel: 'C1', text: 'x' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'request_failed', transient: true });
  });
});
