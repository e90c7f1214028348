import { createClient } from '@keyv/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store, StoreOpenError, StoreOperationError } from '../../src/store/open-store.ts';
import {
  freePort,
  type RedisServer,
  rawRedisCommand,
  silentLogger,
  skipRedisTests,
  startRedisServer,
  wait,
} from './helpers.ts';
import { runStoreContract, uniqueNamespace } from './store-contract.ts';

// Never skipped silently: without redis-server these tests fail, unless SKIP_REDIS_TESTS=1 says otherwise.
describe.skipIf(skipRedisTests)('Redis store (redis://)', () => {
  let server: RedisServer | undefined;

  function url(path = '/3'): string {
    if (server === undefined) {
      throw new Error('redis-server was not started');
    }
    return `${server.url}${path}`;
  }

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterAll(async () => {
    await server?.kill();
  });

  describe('store contract', () => {
    runStoreContract({ url: () => url(), durable: true, deps: { operationTimeoutMs: 2_000 } });
  });

  describe('Redis specifics', () => {
    const opened: Store[] = [];

    async function open(storeUrl: string, deps: { operationTimeoutMs?: number; connectTimeoutMs?: number } = {}) {
      const store = await openStore(storeUrl, { logger: silentLogger, ...deps });
      opened.push(store);
      return store;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    it("stores keys and TTLs exactly as @keyv/redis's createKeyv does", async () => {
      const store = await open(url('/4'));
      const name = uniqueNamespace('outbox');
      await store.namespace<{ n: number }>(name).set('job:1', { n: 1 }, 60_000);
      const client = createClient({ url: url('/4') });
      await client.connect();
      try {
        expect(JSON.parse(String(await client.get(`${name}::job:1`)))).toMatchObject({ value: { n: 1 } });
        const ttl = Number(await client.pTTL(`${name}::job:1`));
        expect(ttl).toBeGreaterThan(55_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      } finally {
        client.destroy();
      }
      expect(store.description).toBe(`redis://127.0.0.1:${server?.port}/4`);
    });

    it('keeps working after the server drops the connection', async () => {
      const store = await open(url());
      const keyv = store.namespace<string>(uniqueNamespace('reconnect'));
      await keyv.set('before', 'kept');
      expect(await rawRedisCommand(server?.port ?? 0, 'CLIENT', 'KILL', 'TYPE', 'normal')).toMatch(/^:[1-9]/);
      // (A command in flight at the moment of the drop would reject.) Once the client has seen the drop,
      // commands wait in the offline queue while it reconnects, then run.
      await wait(50);
      await keyv.set('after', 'written');
      expect(await keyv.get('before')).toBe('kept');
      expect(await keyv.get('after')).toBe('written');
    });

    it('fails to open with the host and port, never the password, when Redis is down', async () => {
      const port = await freePort();
      const startedAt = Date.now();
      const error = await openStore(`redis://bridge:hunter2@127.0.0.1:${port}/0`, {
        logger: silentLogger,
        connectTimeoutMs: 200,
      }).catch((rejection: unknown) => rejection);
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      expect(error).toBeInstanceOf(StoreOpenError);
      const message = (error as Error).message;
      expect(message).toContain(`127.0.0.1:${port}`);
      expect(message).toContain('redis://bridge:***@');
      expect(message).toMatch(/ECONNREFUSED/);
      expect(message).not.toContain('hunter2');
    });

    it('reports a wrong password at once and as such, without showing it', async () => {
      const guarded = await startRedisServer(['--requirepass', 'right-secret']);
      try {
        const startedAt = Date.now();
        const error = await openStore(`redis://:wrong-secret@127.0.0.1:${guarded.port}`, {
          logger: silentLogger,
          connectTimeoutMs: 5_000,
        }).catch((rejection: unknown) => rejection);
        // Retrying cannot fix a password: no waiting for the connect timeout.
        expect(Date.now() - startedAt).toBeLessThan(1_000);
        expect(error).toBeInstanceOf(StoreOpenError);
        const message = (error as Error).message;
        expect(message).toMatch(/WRONGPASS|invalid password/);
        expect(message).toContain('password in STORE_URL');
        expect(message).not.toContain('wrong-secret');
        const store = await open(`redis://:right-secret@127.0.0.1:${guarded.port}`);
        await store.ping();
        expect(store.description).toBe(`redis://:***@127.0.0.1:${guarded.port}/0`);
      } finally {
        await guarded.kill();
      }
    });

    it('rejects writes within the operation timeout once Redis has stopped, and closes cleanly', async () => {
      const doomed = await startRedisServer();
      const store = await open(doomed.url, { operationTimeoutMs: 150 });
      const keyv = store.namespace<string>(uniqueNamespace('doomed'));
      await keyv.set('k', 'v');
      await doomed.kill();
      for (const attempt of [() => keyv.set('k', 'v2'), () => keyv.get('k'), () => store.ping()]) {
        const startedAt = Date.now();
        const error = await attempt().then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
        expect(Date.now() - startedAt).toBeLessThan(1_000);
        expect(error).toBeInstanceOf(StoreOperationError);
        expect(error).toMatchObject({ code: 'store_unavailable' });
        expect((error as Error).message).toContain(`127.0.0.1:${doomed.port}`);
      }
      const closing = Date.now();
      await store.close();
      expect(Date.now() - closing).toBeLessThan(1_000);
    });

    it('rejects operations on a stalled server within the operation timeout, and recovers when it answers again', async () => {
      const stalled = await startRedisServer();
      try {
        const store = await open(stalled.url, { operationTimeoutMs: 150 });
        const keyv = store.namespace<string>(uniqueNamespace('stalled'));
        await keyv.set('k', 'before');
        stalled.freeze(true);
        const startedAt = Date.now();
        const error = await keyv.get('k').then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
        expect(Date.now() - startedAt).toBeLessThan(1_000);
        expect(error).toMatchObject({ code: 'store_unavailable', reason: 'timeout' });
        expect((error as Error).message).toMatch(/did not complete get within 150 ms/);
        stalled.freeze(false);
        expect(await keyv.get('k')).toBe('before');
        stalled.freeze(true);
        const pending = keyv.set('k', 'during');
        const closing = Date.now();
        await store.close();
        expect(Date.now() - closing).toBeLessThan(1_000);
        await expect(pending).rejects.toBeInstanceOf(StoreOperationError);
      } finally {
        stalled.freeze(false);
        await stalled.kill();
      }
    });

    it('keeps databases of one server apart', async () => {
      const name = uniqueNamespace('db');
      const five = await open(url('/5'));
      const six = await open(url('/6'));
      await five.namespace<string>(name).set('k', 'in five');
      expect(await six.namespace<string>(name).get('k')).toBeUndefined();
      await wait(1);
      expect(await five.namespace<string>(name).get('k')).toBe('in five');
    });
  });
});
