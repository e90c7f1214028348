import { join } from 'node:path';
import type { Keyv } from 'keyv';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store, StoreOperationError } from '../../src/store/open-store.ts';
import {
  acquireProcessLease,
  LEASE_KEY,
  LEASE_NAMESPACE,
  LeaseHeldError,
  type LeaseHolder,
  type ProcessLease,
} from '../../src/store/process-lease.ts';
import { FakeClock, makeTempDir, silentLogger, wait, waitFor } from './helpers.ts';

const temp = makeTempDir();
afterAll(() => temp.remove());

/** Short real-time timing keeps the suite fast; the defaults are exercised with a fake clock. */
const fast = { ttlMs: 200, renewEveryMs: 20 };

describe('process lease', () => {
  const stores: Store[] = [];
  const leases: ProcessLease[] = [];
  let fileCounter = 0;

  async function memoryStore(): Promise<Store> {
    const store = await openStore('memory://', { logger: silentLogger });
    stores.push(store);
    return store;
  }

  /** Two stores on one SQLite file behave like two processes sharing it. */
  async function twoProcessesOnOneFile(): Promise<[Store, Store]> {
    fileCounter += 1;
    const url = `sqlite://${join(temp.path, `lease-${fileCounter}.sqlite`)}`;
    const first = await openStore(url, { logger: silentLogger });
    const second = await openStore(url, { logger: silentLogger });
    stores.push(first, second);
    return [first, second];
  }

  function leaseRecords(store: Store): Keyv<LeaseHolder> {
    return store.namespace<LeaseHolder>(LEASE_NAMESPACE);
  }

  async function acquire(store: Store, options: Omit<Parameters<typeof acquireProcessLease>[1], 'logger'>) {
    const lease = await acquireProcessLease(store, { logger: silentLogger, ...options });
    leases.push(lease);
    return lease;
  }

  function foreignHolder(overrides: Partial<LeaseHolder> = {}): LeaseHolder {
    const now = Date.now();
    return { token: 'foreign-token', host: 'other-host', pid: 4242, startedAt: now, renewedAt: now, ...overrides };
  }

  afterEach(async () => {
    await Promise.all(leases.splice(0).map((lease) => lease.release()));
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it('acquires a free store, keeps renewing the record and deletes it on release', async () => {
    const store = await memoryStore();
    const lease = await acquire(store, { ...fast, host: 'host-a', pid: 101 });
    expect(lease.holder).toMatchObject({ host: 'host-a', pid: 101 });
    const first = await leaseRecords(store).get(LEASE_KEY);
    expect(first).toEqual(lease.holder);
    let renewed: LeaseHolder | undefined;
    await waitFor(
      async () => {
        renewed = await leaseRecords(store).get(LEASE_KEY);
        return renewed !== undefined && renewed.renewedAt > (first?.renewedAt ?? Number.POSITIVE_INFINITY);
      },
      1_000,
      'a renewal',
    );
    expect(renewed?.token).toBe(first?.token);
    await lease.release();
    await lease.release();
    expect(await leaseRecords(store).get(LEASE_KEY)).toBeUndefined();
  });

  it('refuses a second process with LeaseHeldError while the first keeps renewing', async () => {
    const [first, second] = await twoProcessesOnOneFile();
    const held = await acquire(first, { ...fast, host: 'host-a', pid: 101 });
    const startedAt = Date.now();
    const error = await acquire(second, { ...fast, host: 'host-b', pid: 202 }).catch((rejection: unknown) => rejection);
    expect(Date.now() - startedAt).toBeLessThan(fast.ttlMs);
    expect(error).toBeInstanceOf(LeaseHeldError);
    expect(error).toMatchObject({ code: 'store_in_use', holder: { host: 'host-a', pid: 101 } });
    const message = (error as Error).message;
    expect(message).toContain(`host "host-a", pid 101, since ${new Date(held.holder.startedAt).toISOString()}`);
    expect(message).toContain(first.description);
    expect(message).toContain('would send every message twice');
    expect(message).toContain('Stop the other process, or give this one a different STORE_URL');
    expect(message).toContain('expires within 1 s');
    expect((await leaseRecords(second).get(LEASE_KEY))?.token).toBe(held.holder.token);
  });

  it('refuses a second process of the same host while the first one is running', async () => {
    const store = await memoryStore();
    await acquire(store, { ...fast, host: 'box', pid: 101 });
    const error = await acquire(store, { ...fast, host: 'box', pid: 202, isProcessAlive: () => true }).catch(
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(LeaseHeldError);
  });

  it('takes the store over within the TTL once the holder has died, and the dead holder learns it lost', async () => {
    const [first, second] = await twoProcessesOnOneFile();
    const dead = await acquire(first, { ...fast, host: 'host-a', pid: 101 });
    const lost: Array<LeaseHolder | undefined> = [];
    dead.onLost((by) => lost.push(by));
    await first.close(); // the process "dies": it can no longer renew
    const startedAt = Date.now();
    const lease = await acquire(second, { ...fast, host: 'host-b', pid: 202 });
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeLessThan(fast.ttlMs + 150);
    expect((await leaseRecords(second).get(LEASE_KEY))?.token).toBe(lease.holder.token);
    await waitFor(() => lost.length > 0, 1_000, 'the dead holder to give up');
    expect(lost).toEqual([undefined]);
  });

  it('takes over from a silent holder on another host after watching it for the TTL (default timing)', async () => {
    const store = await memoryStore();
    const clock = new FakeClock();
    await leaseRecords(store).set(LEASE_KEY, foreignHolder({ host: 'elsewhere' }));
    const before = clock.now();
    const lease = await acquire(store, { clock, host: 'me', pid: 1 });
    const waited = clock.now() - before;
    expect(waited).toBeGreaterThanOrEqual(15_000);
    expect(waited).toBeLessThanOrEqual(15_000 + 1_500 + 1_000 + 500);
    expect((await leaseRecords(store).get(LEASE_KEY))?.token).toBe(lease.holder.token);
  });

  it('takes over at once from a process of the same host that is no longer running', async () => {
    const store = await memoryStore();
    const clock = new FakeClock();
    await leaseRecords(store).set(LEASE_KEY, foreignHolder({ host: 'box', pid: 4242 }));
    const before = clock.now();
    const lease = await acquire(store, { clock, host: 'box', pid: 99, isProcessAlive: (pid) => pid !== 4242 });
    expect(clock.now() - before).toBeLessThanOrEqual(500);
    expect((await leaseRecords(store).get(LEASE_KEY))?.token).toBe(lease.holder.token);
  });

  it('takes over at once after a container restart (same host, pid 1 again)', async () => {
    const store = await memoryStore();
    const clock = new FakeClock();
    await leaseRecords(store).set(LEASE_KEY, foreignHolder({ host: 'container-7', pid: 1 }));
    const before = clock.now();
    await acquire(store, { clock, host: 'container-7', pid: 1, isProcessAlive: () => true });
    expect(clock.now() - before).toBeLessThanOrEqual(500);
  });

  it('calls onLost once, with the new holder, when another process overwrites the record', async () => {
    const store = await memoryStore();
    const lease = await acquire(store, { ...fast, host: 'host-a', pid: 101 });
    const calls: Array<LeaseHolder | undefined> = [];
    lease.onLost((by) => calls.push(by));
    const intruder = foreignHolder({ token: 'intruder', host: 'host-b' });
    await leaseRecords(store).set(LEASE_KEY, intruder, fast.ttlMs);
    await waitFor(() => calls.length > 0, 1_000, 'onLost');
    await wait(3 * fast.renewEveryMs);
    expect(calls).toEqual([intruder]);
    const late: Array<LeaseHolder | undefined> = [];
    lease.onLost((by) => late.push(by));
    await wait(0);
    expect(late).toEqual([intruder]);
    await lease.release();
    expect((await leaseRecords(store).get(LEASE_KEY))?.token).toBe('intruder');
  });

  it('keeps the lease through store errors shorter than the TTL', async () => {
    const flaky = flakyStore(await memoryStore());
    const lease = await acquire(flaky.store, { ...fast, host: 'host-a', pid: 101 });
    const lost: Array<LeaseHolder | undefined> = [];
    lease.onLost((by) => lost.push(by));
    flaky.failing = true;
    await wait(fast.ttlMs / 2);
    flaky.failing = false;
    const afterOutage = Date.now();
    await waitFor(() => lease.holder.renewedAt >= afterOutage, 1_000, 'renewal after the outage');
    expect(lost).toEqual([]);
    expect((await leaseRecords(flaky.store).get(LEASE_KEY))?.token).toBe(lease.holder.token);
  });

  it('gives the lease up when it could not be renewed for a whole TTL', async () => {
    const flaky = flakyStore(await memoryStore());
    const lease = await acquire(flaky.store, { ...fast, host: 'host-a', pid: 101 });
    const lost: Array<LeaseHolder | undefined> = [];
    lease.onLost((by) => lost.push(by));
    const outageStart = Date.now();
    flaky.failing = true;
    await waitFor(() => lost.length > 0, 1_000, 'onLost');
    expect(Date.now() - outageStart).toBeGreaterThanOrEqual(fast.ttlMs - fast.renewEveryMs - 5);
    expect(lost).toEqual([undefined]);
  });

  it('lets exactly one of two simultaneous starters win', async () => {
    const store = await memoryStore();
    const results = await Promise.allSettled([
      acquire(store, { ...fast, host: 'host-a', pid: 1 }),
      acquire(store, { ...fast, host: 'host-b', pid: 1 }),
    ]);
    const winners = results.filter((result) => result.status === 'fulfilled');
    const losers = results.filter((result) => result.status === 'rejected');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    const reason: unknown = losers[0]?.reason;
    expect(reason).toBeInstanceOf(LeaseHeldError);
    if (reason instanceof LeaseHeldError) {
      expect(reason.holder.token).toBe(winners[0]?.value.holder.token);
    }
  });

  it('rejects timing in which one failed renewal could lose the lease', async () => {
    const store = await memoryStore();
    await expect(acquire(store, { ttlMs: 150, renewEveryMs: 100 })).rejects.toThrow(/at most half of ttlMs/);
    await expect(acquire(store, { ttlMs: 0 })).rejects.toThrow(/Invalid lease ttlMs/);
  });
});

/** A store whose Keyvs fail every get/set/delete while `failing` is true, as during a store outage. */
function flakyStore(inner: Store): { store: Store; failing: boolean } {
  const state = {
    failing: false,
    store: {
      kind: inner.kind,
      description: inner.description,
      ping: () => inner.ping(),
      close: () => inner.close(),
      namespace<Value>(name: string, options?: { ttlMs?: number }): Keyv<Value> {
        const keyv = inner.namespace<Value>(name, options);
        return new Proxy(keyv, {
          get(target, property, receiver): unknown {
            if (state.failing && (property === 'get' || property === 'set' || property === 'delete')) {
              return () => Promise.reject(new StoreOperationError('injected outage', 'failed'));
            }
            return Reflect.get(target, property, receiver);
          },
        });
      },
    } satisfies Store,
  };
  return state;
}
