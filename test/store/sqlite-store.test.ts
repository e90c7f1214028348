import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store, StoreOpenError } from '../../src/store/open-store.ts';
import { makeTempDir, silentLogger, wait } from './helpers.ts';
import { runStoreContract, uniqueNamespace } from './store-contract.ts';

const temp = makeTempDir();
afterAll(() => temp.remove());

// memory:// is SQLite's in-memory database underneath, so it shares this file.
describe('memory store (memory://)', () => {
  runStoreContract({ url: () => 'memory://', durable: false });
});

describe('SQLite store (sqlite://)', () => {
  const file = join(temp.path, 'contract', 'bridge.sqlite');
  runStoreContract({ url: () => `sqlite://${file}`, durable: true });
});

describe('SQLite store on disk', () => {
  const opened: Store[] = [];
  let counter = 0;

  async function openFile(deps: { sweepIntervalMs?: number } = {}): Promise<{ store: Store; path: string }> {
    counter += 1;
    const path = join(temp.path, `case-${counter}`, 'nested', 'bridge.sqlite');
    const store = await openStore(`sqlite://${path}`, { logger: silentLogger, ...deps });
    opened.push(store);
    return { store, path };
  }

  /** A plain connection, as another tool would open the file. */
  function plainSelect(path: string, sql: string, ...params: Array<string | number>): Array<Record<string, unknown>> {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return db
        .prepare(sql)
        .all(...params)
        .map((row) => ({ ...row }));
    } finally {
      db.close();
    }
  }

  beforeAll(() => {
    mkdirSync(temp.path, { recursive: true });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  it("writes rows that a plain SELECT reads in @keyv/sqlite's layout", async () => {
    const { store, path } = await openFile();
    const keyv = store.namespace<{ to: string }>('outbox');
    const before = Date.now();
    await keyv.set('job:1', { to: '+441234' });
    await keyv.set('job:2', { to: ':x' }, 60_000);

    const [table] = plainSelect(path, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'keyv'");
    expect(table?.['sql']).toBe('CREATE TABLE keyv(key VARCHAR(255) PRIMARY KEY, value TEXT )');
    const rows = plainSelect(path, 'SELECT key, value FROM keyv ORDER BY key');
    expect(rows.map((row) => row['key'])).toEqual(['outbox:job:1', 'outbox:job:2']);
    expect(JSON.parse(String(rows[0]?.['value']))).toEqual({ value: { to: '+441234' } });
    const second: unknown = JSON.parse(String(rows[1]?.['value']));
    // Plain JSON in Keyv's envelope (native JSON; Keyv's default serializer would write '::x' here).
    expect(second).toMatchObject({ value: { to: ':x' } });
    const expires = (second as { expires: number }).expires;
    expect(expires).toBeGreaterThanOrEqual(before + 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('reads rows that another Keyv tool wrote in the same layout', async () => {
    const { store, path } = await openFile();
    const writer = new DatabaseSync(path);
    writer
      .prepare('INSERT INTO keyv (key, value) VALUES (?, ?)')
      .run('contacts:+441234', JSON.stringify({ value: { name: 'Ada' }, expires: null }));
    writer.close();
    expect(await store.namespace<{ name: string }>('contacts').get('+441234')).toEqual({ name: 'Ada' });
  });

  it('uses the WAL journal so readers never block the writer', async () => {
    const { path } = await openFile();
    expect(plainSelect(path, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
  });

  it('sweeps expired rows that nobody reads, and keeps the others', async () => {
    const { store, path } = await openFile({ sweepIntervalMs: 20 });
    const keyv = store.namespace<string>(uniqueNamespace('cache'));
    await keyv.set('short', 'x', 10);
    await keyv.set('long', 'y', 60_000);
    await keyv.set('forever', 'z');
    expect(plainSelect(path, 'SELECT count(*) AS n FROM keyv')).toEqual([{ n: 3 }]);
    const deadline = Date.now() + 2_000;
    while (Number(plainSelect(path, 'SELECT count(*) AS n FROM keyv')[0]?.['n']) !== 2 && Date.now() < deadline) {
      await wait(10);
    }
    const keys = plainSelect(path, 'SELECT key FROM keyv ORDER BY key').map((row) => String(row['key']));
    expect(keys.map((key) => key.split(':')[1])).toEqual(['forever', 'long']);
  });

  it('sweeps through an index on the expiry time', async () => {
    const { path } = await openFile();
    const plan = plainSelect(
      path,
      "EXPLAIN QUERY PLAN DELETE FROM keyv WHERE json_valid(value) AND json_extract(value, '$.expires') < ?",
      Date.now(),
    );
    expect(plan.map((row) => String(row['detail'])).join(' ')).toContain('USING INDEX keyv_expires');
  });

  it('creates missing parent folders and describes itself by absolute path', async () => {
    const { store, path } = await openFile();
    expect(store.kind).toBe('sqlite');
    expect(store.description).toBe(`sqlite://${path}`);
    expect(plainSelect(path, 'SELECT count(*) AS n FROM keyv')).toEqual([{ n: 0 }]);
  });

  it('refuses a file that is not a SQLite database with a StoreOpenError naming it', async () => {
    const path = join(temp.path, 'not-a-db.sqlite');
    writeFileSync(path, 'this is not a database, just some text that is long enough to have a header'.repeat(20));
    const error = await openStore(`sqlite://${path}`, { logger: silentLogger }).catch(
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(StoreOpenError);
    expect(error).toMatchObject({ code: 'store_unavailable' });
    expect(String((error as Error).message)).toContain(path);
    expect(String((error as Error).message)).toMatch(/not a database/);
  });

  it('explains a folder it cannot create', async () => {
    const blocker = join(temp.path, 'a-file');
    writeFileSync(blocker, 'x');
    const error = await openStore(`sqlite://${blocker}/sub/bridge.sqlite`, { logger: silentLogger }).catch(
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(StoreOpenError);
    expect((error as Error).message).toContain(`Cannot create the folder ${blocker}/sub`);
    expect((error as Error).message).toContain('STORE_URL');
  });
});
