import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { createRequestBudget, type Lane } from '../../src/chatwoot/request-budget.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { createLogSink } from '../helpers/log-sink.ts';

function budget(options: {
  perMinute?: number;
  concurrency?: number;
  agingMs?: number;
  contactSearchPerMinute?: number;
}) {
  return createRequestBudget({
    requestsPerMinute: options.perMinute ?? 60_000,
    concurrency: options.concurrency ?? 4,
    clock: systemClock,
    logger: createLogSink().logger,
    ...(options.agingMs === undefined ? {} : { agingMs: options.agingMs }),
    ...(options.contactSearchPerMinute === undefined ? {} : { contactSearchPerMinute: options.contactSearchPerMinute }),
  });
}

/** Runs a request that records its start and takes `ms`. */
function recorder() {
  const order: string[] = [];
  const starts: number[] = [];
  const request =
    (name: string, ms = 0) =>
    async () => {
      order.push(name);
      starts.push(Date.now());
      await delay(ms);
      return name;
    };
  return { order, starts, request };
}

describe('request budget', () => {
  test('never starts more requests in any second than its per-minute budget allows', async () => {
    const gate = budget({ perMinute: 600 });
    const { starts, request } = recorder();
    await Promise.all(Array.from({ length: 13 }, (_, index) => gate.run('send', request(`r${index}`))));
    for (const start of starts) {
      expect(starts.filter((other) => other >= start && other < start + 1_000).length).toBeLessThanOrEqual(10);
    }
  });

  test('serves an interactive request before queued sends, on a slot sends may not take', async () => {
    const gate = budget({ concurrency: 2 });
    const { order, request } = recorder();
    const sends = Array.from({ length: 4 }, (_, index) => gate.run('send', request(`send${index}`, 60)));
    await delay(10);
    const interactive = gate.run('interactive', request('interactive'));
    await interactive;
    // One send runs on the bulk slot; the interactive request started on the slot kept free, not after the sends.
    expect(order.slice(0, 2)).toEqual(['send0', 'interactive']);
    await Promise.all(sends);
  });

  test('starts nothing while paused after a 429, then resumes', async () => {
    const gate = budget({});
    const { starts, request } = recorder();
    const pausedAt = Date.now();
    gate.pauseUntil(pausedAt + 150);
    expect(gate.stats().pausedUntil).toBe(pausedAt + 150);
    await Promise.all([gate.run('send', request('a')), gate.run('interactive', request('b'))]);
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(pausedAt + 140);
    expect(gate.stats().pausedUntil).toBeUndefined();
  });

  test('moves a background request ahead of sends once it has waited long enough', async () => {
    const gate = budget({ concurrency: 2, agingMs: 30 });
    const { order, request } = recorder();
    const first = Array.from({ length: 3 }, (_, index) => gate.run('send', request(`send${index}`, 25)));
    const background = gate.run('background', request('status'));
    const later = Array.from({ length: 6 }, (_, index) => gate.run('send', request(`later${index}`, 25)));
    await Promise.all([...first, background, ...later]);
    expect(order.indexOf('status')).toBeLessThan(order.indexOf('later5'));
    expect(order.indexOf('status')).toBeGreaterThan(0);
  });

  test('holds background work while sends are waiting, even in the gaps between them', async () => {
    const gate = budget({ concurrency: 2, agingMs: 60_000 });
    const { order, request } = recorder();
    // A conversation's sends come one after another, each a moment after the last finished.
    const sends = (async () => {
      for (let index = 0; index < 5; index += 1) {
        await gate.run('send', request(`send${index}`, 10));
        await delay(5);
      }
    })();
    await delay(2);
    const status = gate.run('background', request('status'));
    await Promise.all([sends, status]);
    expect(order.at(-1)).toBe('status');
  });

  test('drops a waiting request whose caller gave up, without ever running it', async () => {
    const gate = budget({ concurrency: 1 });
    const { order, request } = recorder();
    const busy = gate.run('send', request('busy', 80));
    const gaveUp = gate.run('interactive', request('late'), { signal: AbortSignal.timeout(20) });
    await expect(gaveUp).rejects.toThrow();
    await busy;
    await delay(20);
    expect(order).toEqual(['busy']);
    expect(gate.stats().waiting).toEqual({ interactive: 0, send: 0, background: 0 } satisfies Record<Lane, number>);
  });

  test('holds contact searches to their own per-minute limit without holding other requests', async () => {
    const gate = budget({ contactSearchPerMinute: 2 });
    const { order, request } = recorder();
    const searches = [1, 2, 3].map((index) => gate.run('send', request(`search${index}`), { contactSearch: true }));
    await delay(30);
    await gate.run('send', request('other'));
    expect(order).toEqual(['search1', 'search2', 'other']);
    gate.clear();
    await Promise.allSettled(searches);
  });
});
