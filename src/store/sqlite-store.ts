import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import type { Keyv } from 'keyv';
import type { Logger } from '../shared/logger.ts';
import { errorMessage, StoreOpenError, StoreOperationError } from './errors.ts';
import {
  assertNamespaceName,
  assertSameNamespace,
  createNamespaceKeyv,
  type NamespaceAdapter,
} from './namespace-keyv.ts';
import type { MemoryStoreTarget, SqliteStoreTarget } from './store-url.ts';
import type { NamespaceOptions, Store } from './types.ts';

/*
 * The embedded store: Node's built-in SQLite (node:sqlite), no native module to compile.
 *
 * On-disk layout is @keyv/sqlite's, so standard Keyv tooling reads the file:
 *   table `keyv(key VARCHAR(255) PRIMARY KEY, value TEXT)`, key `<namespace>:<key>`,
 *   value as Keyv serialises it: JSON `{"value":…,"expires":<epoch ms>}` ("expires" absent without TTL).
 * We add one partial expression index on `$.expires` for the sweep; other readers ignore it.
 *
 * Durability: WAL journal with synchronous=FULL, so a write has been fsync'ed when its promise resolves.
 * Every Keyv write is its own transaction. Calls are synchronous underneath (they block the event loop for the
 * duration of the write and its fsync, typically well under a millisecond to a few ms on local disks).
 *
 * `memory://` is the same code over an in-memory SQLite database, so both behave alike (including TTL sweep and
 * the rejection of operations after close).
 */

const TABLE = 'keyv';
/** How long a write waits for another connection's lock (e.g. a `check` run next to the bridge). */
const BUSY_TIMEOUT_MS = 5_000;
/** Keyv never deletes expired rows it does not read; the sweep does. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
const ITERATION_PAGE_SIZE = 100;

export interface SqliteStoreOptions {
  logger: Logger;
  sweepIntervalMs?: number;
}

interface Statements {
  readonly get: StatementSync;
  readonly getMany: StatementSync;
  readonly upsert: StatementSync;
  readonly delete: StatementSync;
  readonly deleteMany: StatementSync;
  readonly clearRange: StatementSync;
  readonly pageFirst: StatementSync;
  readonly pageNext: StatementSync;
  readonly sweep: StatementSync;
  readonly ping: StatementSync;
}

export async function openSqliteStore(
  target: SqliteStoreTarget | MemoryStoreTarget,
  options: SqliteStoreOptions,
): Promise<Store> {
  const { logger } = options;
  const database = target.kind === 'sqlite' ? openFile(target) : new DatabaseSync(':memory:');
  let statements: Statements;
  try {
    statements = initialise(database, target, logger);
  } catch (error) {
    database.close();
    if (error instanceof StoreOpenError) {
      throw error;
    }
    throw new StoreOpenError(
      `Cannot use ${target.description} as the store: ${errorMessage(error)}. ` +
        'If the file is not a database of this bridge, move it away or choose another path with STORE_URL.',
      { cause: error },
    );
  }
  const store = new SqliteStore(target, database, statements, logger, options.sweepIntervalMs);
  logger.info({ store: target.description }, 'store opened');
  return store;
}

function openFile(target: SqliteStoreTarget): DatabaseSync {
  const folder = dirname(target.path);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    throw new StoreOpenError(
      `Cannot create the folder ${folder} for the SQLite store (${errorMessage(error)}). ` +
        'Create it and make it writable for the user running the bridge, or choose another path with STORE_URL.',
      { cause: error },
    );
  }
  try {
    return new DatabaseSync(target.path);
  } catch (error) {
    throw new StoreOpenError(
      `Cannot open the SQLite store ${target.path} (${errorMessage(error)}). ` +
        'Check that the file and its folder are writable for the user running the bridge, or choose another path with STORE_URL.',
      { cause: error },
    );
  }
}

function initialise(db: DatabaseSync, target: SqliteStoreTarget | MemoryStoreTarget, logger: Logger): Statements {
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (target.kind === 'sqlite') {
    const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.['journal_mode'];
    if (mode !== 'wal') {
      logger.warn(
        { store: target.description, journalMode: mode },
        'SQLite could not switch to WAL (is the file on a network file system?); continuing with the rollback journal',
      );
    }
    db.exec('PRAGMA synchronous = FULL');
  }
  db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE}(key VARCHAR(255) PRIMARY KEY, value TEXT )`);
  const columns = db
    .prepare(`PRAGMA table_info(${TABLE})`)
    .all()
    .map((row) => row['name']);
  if (!columns.includes('key') || !columns.includes('value')) {
    throw new StoreOpenError(
      `${target.description} has a "${TABLE}" table with other columns (${columns.join(', ')}); it was not created by Keyv. ` +
        'Choose another file with STORE_URL.',
    );
  }
  // json_valid() keeps a foreign non-JSON value from making writes fail; the sweep repeats it to use the index.
  db.exec(
    `CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE}(json_extract(value, '$.expires')) WHERE json_valid(value)`,
  );
  return {
    get: db.prepare(`SELECT value FROM ${TABLE} WHERE key = ?`),
    getMany: db.prepare(`SELECT key, value FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`),
    upsert: db.prepare(
      `INSERT INTO ${TABLE} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    ),
    delete: db.prepare(`DELETE FROM ${TABLE} WHERE key = ?`),
    deleteMany: db.prepare(`DELETE FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`),
    // Ranges [`ns:`, `ns;`) select exactly the keys starting with `ns:` (";" follows ":"), through the primary key.
    clearRange: db.prepare(`DELETE FROM ${TABLE} WHERE key >= ? AND key < ?`),
    pageFirst: db.prepare(`SELECT key, value FROM ${TABLE} WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`),
    pageNext: db.prepare(`SELECT key, value FROM ${TABLE} WHERE key > ? AND key < ? ORDER BY key LIMIT ?`),
    // Same comparison as Keyv (`Date.now() > expires` is expired).
    sweep: db.prepare(`DELETE FROM ${TABLE} WHERE json_valid(value) AND json_extract(value, '$.expires') < ?`),
    ping: db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM ${TABLE} LIMIT 1)`),
  };
}

class SqliteStore implements Store {
  readonly kind: 'memory' | 'sqlite';
  readonly description: string;
  readonly #db: DatabaseSync;
  readonly #statements: Statements;
  readonly #logger: Logger;
  readonly #adapters = new Map<string, SqliteNamespaceAdapter>();
  readonly #sweepTimer: NodeJS.Timeout;
  readonly #batch: Array<{
    operation: string;
    body: (statements: Statements) => unknown;
    resolve: (value: unknown) => void;
    reject: (reason: unknown) => void;
  }> = [];
  #closed = false;

  constructor(
    target: SqliteStoreTarget | MemoryStoreTarget,
    db: DatabaseSync,
    statements: Statements,
    logger: Logger,
    sweepIntervalMs = DEFAULT_SWEEP_INTERVAL_MS,
  ) {
    this.kind = target.kind;
    this.description = target.description;
    this.#db = db;
    this.#statements = statements;
    this.#logger = logger;
    this.sweepExpired();
    this.#sweepTimer = setInterval(() => this.sweepExpired(), sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  namespace<Value>(name: string, options?: NamespaceOptions): Keyv<Value> {
    assertNamespaceName(name);
    let adapter = this.#adapters.get(name);
    if (adapter === undefined) {
      adapter = new SqliteNamespaceAdapter(this, name);
      this.#adapters.set(name, adapter);
    }
    return createNamespaceKeyv<Value>(adapter, name, options);
  }

  async ping(): Promise<void> {
    this.run('ping', (s) => s.ping.get());
  }

  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#commit();
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.#db.close();
    this.#logger.info({ store: this.description }, 'store closed');
  }

  /** Deletes every expired row (all namespaces); returns how many. Runs on a timer; errors are logged. */
  sweepExpired(): number {
    if (this.#closed) {
      return 0;
    }
    try {
      const removed = Number(this.run('sweep', (s) => s.sweep.run(Date.now()).changes));
      if (removed > 0) {
        this.#logger.debug({ store: this.description, removed }, 'expired store entries removed');
      }
      return removed;
    } catch (error) {
      this.#logger.warn({ store: this.description, err: error }, 'could not remove expired store entries');
      return 0;
    }
  }

  /**
   * Group commit: runs `body` with every other operation queued in this turn of the event loop, in order, in one
   * transaction. With synchronous=FULL that is one fsync per batch instead of one per write, while each write is
   * still on disk when its promise resolves, and a read sees the writes queued before it.
   */
  queue<T>(operation: string, body: (statements: Statements) => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new StoreOperationError(`Cannot ${operation}: the store ${this.description} is closed.`, 'closed'),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.#batch.push({ operation, body, resolve: resolve as (value: unknown) => void, reject });
      if (this.#batch.length === 1) {
        setImmediate(() => this.#commit());
      }
    });
  }

  #commit(): void {
    const batch = this.#batch.splice(0);
    if (batch.length === 0) {
      return;
    }
    const transaction = batch.length > 1;
    try {
      if (transaction) {
        this.run('begin', () => this.#db.exec('BEGIN IMMEDIATE'));
      }
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    const outcomes = batch.map((entry) => {
      try {
        return { ok: true as const, value: this.run(entry.operation, entry.body) };
      } catch (error) {
        return { ok: false as const, error };
      }
    });
    if (transaction) {
      try {
        this.run('commit', () => this.#db.exec('COMMIT'));
      } catch (error) {
        try {
          this.#db.exec('ROLLBACK');
        } catch {
          // Already rolled back by SQLite.
        }
        for (const entry of batch) entry.reject(error);
        return;
      }
    }
    batch.forEach((entry, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok === true) entry.resolve(outcome.value);
      else entry.reject(outcome?.error);
    });
  }

  /** Runs one statement; every failure becomes a StoreOperationError. */
  run<T>(operation: string, body: (statements: Statements) => T): T {
    if (this.#closed) {
      throw new StoreOperationError(`Cannot ${operation}: the store ${this.description} is closed.`, 'closed');
    }
    try {
      return body(this.#statements);
    } catch (error) {
      throw new StoreOperationError(
        `SQLite ${operation} failed on ${this.description}: ${errorMessage(error)}`,
        'failed',
        { cause: error },
      );
    }
  }
}

class SqliteNamespaceAdapter implements NamespaceAdapter {
  readonly opts: { readonly dialect: 'sqlite'; readonly url: string };
  readonly #store: SqliteStore;
  readonly #name: string;
  readonly #prefix: string;
  readonly #end: string;

  constructor(store: SqliteStore, name: string) {
    this.#store = store;
    this.#name = name;
    this.#prefix = `${name}:`;
    this.#end = `${name};`;
    this.opts = { dialect: 'sqlite', url: store.description };
  }

  get namespace(): string {
    return this.#name;
  }

  set namespace(value: string | undefined) {
    assertSameNamespace(this.#name, value);
  }

  async get(key: string): Promise<string | undefined> {
    return this.#store.queue('get', (s) => textOf(s.get.get(this.#prefix + key)?.['value']));
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    const full = keys.map((key) => this.#prefix + key);
    const rows = await this.#store.queue('getMany', (s) => s.getMany.all(JSON.stringify(full)));
    const found = new Map<string, string | undefined>();
    for (const row of rows) {
      const key = textOf(row['key']);
      if (key !== undefined) {
        found.set(key, textOf(row['value']));
      }
    }
    return full.map((key) => found.get(key));
  }

  async set(key: string, value: string): Promise<void> {
    // The TTL argument is not needed: the expiry is inside the serialised value (see the sweep).
    await this.#store.queue('set', (s) => s.upsert.run(this.#prefix + key, value));
  }

  async delete(key: string): Promise<boolean> {
    return this.#store.queue('delete', (s) => Number(s.delete.run(this.#prefix + key).changes) > 0);
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const full = JSON.stringify(keys.map((key) => this.#prefix + key));
    return this.#store.queue('deleteMany', (s) => Number(s.deleteMany.run(full).changes) > 0);
  }

  async clear(): Promise<void> {
    await this.#store.queue('clear', (s) => s.clearRange.run(this.#prefix, this.#end));
  }

  /** Pages through the namespace by key (keyset pagination: stable while entries are deleted meanwhile). */
  async *iterator(): AsyncGenerator<[string, string], void, undefined> {
    let last: string | undefined;
    for (;;) {
      const after = last;
      const rows = await this.#store.queue('iterate', (s) =>
        after === undefined
          ? s.pageFirst.all(this.#prefix, this.#end, ITERATION_PAGE_SIZE)
          : s.pageNext.all(after, this.#end, ITERATION_PAGE_SIZE),
      );
      for (const row of rows) {
        const key = textOf(row['key']);
        const value = textOf(row['value']);
        if (key === undefined) {
          continue;
        }
        last = key;
        if (value !== undefined) {
          yield [key.slice(this.#prefix.length), value];
        }
      }
      if (rows.length < ITERATION_PAGE_SIZE) {
        return;
      }
    }
  }

  on(): this {
    return this;
  }
}

function textOf(value: SQLOutputValue | undefined): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  if (value instanceof Uint8Array) {
    return Buffer.from(value).toString('utf8');
  }
  return undefined;
}
