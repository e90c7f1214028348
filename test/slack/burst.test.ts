import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import { appHarnesses, eventually, outgoingTo, rootsIn, threadFor } from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const SENDS = 50;

describe('a burst of sends into one channel', () => {
  test('50 sends: 50 threads, every one ends Sent, no 429 from Slack, each root names its own customer', async () => {
    // Slack's limits scaled 100×: 1 post/s per channel with a burst of 3 → 100/s; Tier 3 updates 50/min → 5,000/min.
    // The poster is paced as in production, relative to those limits (1,100 ms → 11 ms, 1,200 ms → 12 ms).
    const h = await start({
      slack: { postRate: { perSecond: 100, burst: 3 }, updateRate: { perMinute: 5_000, burst: 50 } },
      slackTuning: { poster: { postIntervalMs: 11, postBurst: 1, updateIntervalMs: 12, updateBurst: 5 } },
    });
    const customers = Array.from({ length: SENDS }, (_, index) => ({
      ...h.customer({ name: `Burst Customer ${String(index).padStart(2, '0')}` }),
      name: `Burst Customer ${String(index).padStart(2, '0')}`,
      text: `Order ${1000 + index} is on its way`,
    }));
    for (const customer of customers) {
      const answer = await h.command(`send ${customer.conversationId} ${customer.text}`);
      expect(String(answer.body?.['text'])).toMatch(/queued/);
    }

    await eventually(
      () =>
        customers.every(({ conversationId }) =>
          /Sent|Delivered|Read/.test(threadFor(h, CHANNEL, conversationId).replies[0]?.text ?? ''),
        )
          ? true
          : undefined,
      'every thread to show Sent',
      20_000,
    );

    expect(rootsIn(h, CHANNEL)).toHaveLength(SENDS);
    expect(h.slack.messages(CHANNEL).filter((message) => message.threadTs !== undefined)).toHaveLength(SENDS);
    for (const customer of customers) {
      const { root, replies } = threadFor(h, CHANNEL, customer.conversationId);
      expect(root?.text).toContain(customer.name);
      expect(root?.text).toContain(customer.text);
      expect(replies).toHaveLength(1);
      expect(replies[0]?.text).toContain(customer.name);
      expect(outgoingTo(h, customer.conversationId).map((message) => message.content)).toEqual([customer.text]);
    }
    expect(h.slack.rateLimited()).toBe(0);
    expect(h.slack.calls().filter((call) => !call.ok)).toEqual([]);
  });
});
