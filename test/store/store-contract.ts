import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import {
  iterateNamespace,
  type OpenStoreDeps,
  openStore,
  type Store,
  StoreOperationError,
} from '../../src/store/open-store.ts';
import { silentLogger, wait } from './helpers.ts';

export interface StoreContractOptions {
  /** STORE_URL of the store under test; called for every test. */
  url: () => string;
  deps?: Omit<OpenStoreDeps, 'logger'>;
  /** Whether values must survive closing and reopening the same URL. */
  durable: boolean;
}

/** A namespace name no other test (or earlier run against the same Redis) uses. */
export function uniqueNamespace(base: string): string {
  return `${base}-${randomUUID().slice(0, 8)}`;
}

/** The behaviour every store kind must share. Call inside a `describe`. */
export function runStoreContract(options: StoreContractOptions): void {
  const opened: Store[] = [];

  async function open(): Promise<Store> {
    const store = await openStore(options.url(), { logger: silentLogger, ...options.deps });
    opened.push(store);
    return store;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  it('stores, reads, overwrites and deletes a value', async () => {
    const store = await open();
    const keyv = store.namespace<{ text: string }>(uniqueNamespace('basic'));
    expect(await keyv.get('missing')).toBeUndefined();
    expect(await keyv.set('k', { text: 'one' })).toBe(true);
    expect(await keyv.get('k')).toEqual({ text: 'one' });
    await keyv.set('k', { text: 'two' });
    expect(await keyv.get('k')).toEqual({ text: 'two' });
    expect(await keyv.has('k')).toBe(true);
    expect(await keyv.delete('k')).toBe(true);
    expect(await keyv.delete('k')).toBe(false);
    expect(await keyv.get('k')).toBeUndefined();
  });

  it('round-trips values of every JSON shape, including strings that start with a colon', async () => {
    const store = await open();
    const keyv = store.namespace<unknown>(uniqueNamespace('shapes'));
    const values: unknown[] = [
      ':colon',
      'plain',
      0,
      42.5,
      true,
      false,
      [1, 'two', { three: 3 }],
      { nested: { a: [null] } },
    ];
    for (const [index, value] of values.entries()) {
      await keyv.set(`key:${index}`, value);
    }
    for (const [index, value] of values.entries()) {
      expect(await keyv.get(`key:${index}`)).toEqual(value);
    }
  });

  it('reads and deletes several keys at once', async () => {
    const store = await open();
    const keyv = store.namespace<number>(uniqueNamespace('many'));
    await keyv.set('a', 1);
    await keyv.set('b', 2);
    expect(await keyv.getMany(['a', 'missing', 'b'])).toEqual([1, undefined, 2]);
    expect(await keyv.deleteMany(['a', 'b'])).toBe(true);
    expect(await keyv.getMany(['a', 'b'])).toEqual([undefined, undefined]);
  });

  it('keeps the same key in two namespaces apart, and clears one namespace only', async () => {
    const store = await open();
    const first = store.namespace<string>(uniqueNamespace('first'));
    const second = store.namespace<string>(uniqueNamespace('second'));
    await first.set('shared', 'from first');
    await second.set('shared', 'from second');
    expect(await first.get('shared')).toBe('from first');
    expect(await second.get('shared')).toBe('from second');
    await first.clear();
    expect(await first.get('shared')).toBeUndefined();
    expect(await second.get('shared')).toBe('from second');
  });

  it('treats a key that starts with the namespace name like any other key', async () => {
    const store = await open();
    const name = uniqueNamespace('jobs');
    const keyv = store.namespace<string>(name);
    await keyv.set(`${name}:1`, 'prefixed');
    await keyv.set('1', 'plain');
    expect(await keyv.get(`${name}:1`)).toBe('prefixed');
    expect(await keyv.get('1')).toBe('plain');
    const keys = [];
    for await (const [key] of iterateNamespace(keyv)) {
      keys.push(key);
    }
    expect(keys.sort()).toEqual(['1', `${name}:1`].sort());
  });

  it('forgets a value once its TTL has passed, per call or as the namespace default', async () => {
    const store = await open();
    const name = uniqueNamespace('ttl');
    const keyv = store.namespace<string>(name);
    const shortLived = store.namespace<string>(name, { ttlMs: 40 });
    await keyv.set('explicit', 'soon gone', 40);
    await shortLived.set('default', 'soon gone too');
    await keyv.set('forever', 'stays');
    expect(await keyv.get('explicit')).toBe('soon gone');
    expect(await keyv.get('default')).toBe('soon gone too');
    await wait(80);
    expect(await keyv.get('explicit')).toBeUndefined();
    expect(await keyv.get('default')).toBeUndefined();
    expect(await keyv.has('explicit')).toBe(false);
    expect(await keyv.get('forever')).toBe('stays');
  });

  it('iterates over the live entries of one namespace only', async () => {
    const store = await open();
    const name = uniqueNamespace('iter');
    const keyv = store.namespace<number>(name);
    const lookalike = store.namespace<number>(`${name}-archive`);
    const other = store.namespace<number>(uniqueNamespace('other'));
    const expected = new Map<string, number>();
    for (let index = 0; index < 230; index += 1) {
      expected.set(`item:${index}`, index);
      await keyv.set(`item:${index}`, index);
    }
    await keyv.set('expiring', -1, 20);
    await lookalike.set('item:0', 1000);
    await other.set('item:1', 2000);
    await wait(40);
    const seen = new Map<string, number>();
    for await (const [key, value] of iterateNamespace(keyv)) {
      seen.set(key, value);
    }
    expect(seen).toEqual(expected);
  });

  it('hands out Keyvs that refuse to be moved to another namespace', async () => {
    const store = await open();
    const keyv = store.namespace<string>(uniqueNamespace('fixed'));
    expect(() => {
      keyv.namespace = 'elsewhere';
    }).toThrow(/bound to the store namespace/);
  });

  it('rejects namespace names that could collide with the key separator or patterns', async () => {
    const store = await open();
    for (const name of ['', 'a:b', 'a*', 'with space', 'a%b', '-leading', 'x'.repeat(65)]) {
      expect(() => store.namespace(name), name).toThrow(/Invalid store namespace/);
    }
  });

  it('answers ping while open', async () => {
    const store = await open();
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('rejects every operation once the store is closed', async () => {
    const store = await open();
    const keyv = store.namespace<string>(uniqueNamespace('closed'));
    await keyv.set('k', 'v');
    await store.close();
    await store.close(); // idempotent
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['get', () => keyv.get('k')],
      ['set', () => keyv.set('k', 'v2')],
      ['delete', () => keyv.delete('k')],
      ['getMany', () => keyv.getMany(['k'])],
      ['clear', () => keyv.clear()],
      ['has', () => keyv.has('k')],
      ['ping', () => store.ping()],
      [
        'iterate',
        async () => {
          for await (const entry of iterateNamespace(keyv)) {
            expect(entry).toBeUndefined();
          }
        },
      ],
    ];
    for (const [label, attempt] of attempts) {
      const error = await attempt().then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(error, label).toBeInstanceOf(StoreOperationError);
      expect(error, label).toMatchObject({ code: 'store_unavailable', reason: 'closed' });
    }
  });

  if (options.durable) {
    it('keeps values when the store is closed and opened again', async () => {
      const name = uniqueNamespace('durable');
      const first = await open();
      await first.namespace<string>(name).set('k', 'kept');
      await first.namespace<string>(name).set('expiring', 'gone', 30);
      await first.close();
      const second = await open();
      expect(await second.namespace<string>(name).get('k')).toBe('kept');
      await wait(50);
      expect(await second.namespace<string>(name).get('expiring')).toBeUndefined();
    });
  } else {
    it('starts empty every time it is opened', async () => {
      const name = uniqueNamespace('volatile');
      const first = await open();
      await first.namespace<string>(name).set('k', 'lost');
      await first.close();
      const second = await open();
      expect(await second.namespace<string>(name).get('k')).toBeUndefined();
    });
  }
}
