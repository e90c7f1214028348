import KeyvRedis, { createClient } from '@keyv/redis';
import type { Keyv } from 'keyv';
import type { Logger } from '../shared/logger.ts';
import { errorMessage, StoreOpenError, StoreOperationError } from './errors.ts';
import {
  assertNamespaceName,
  assertSameNamespace,
  createNamespaceKeyv,
  type NamespaceAdapter,
} from './namespace-keyv.ts';
import type { RedisStoreTarget } from './store-url.ts';
import type { NamespaceOptions, Store } from './types.ts';

/*
 * Redis through @keyv/redis, over one client shared by every namespace (one KeyvRedis adapter per namespace,
 * because Keyv writes `namespace` onto the adapter it is given). Keys are `<namespace>::<key>` with native TTL,
 * exactly what @keyv/redis's `createKeyv(url, { namespace })` writes.
 *
 * Failure handling:
 * - Startup: connection attempts are retried (e.g. Redis starting in the next container) until
 *   `connectTimeoutMs`; then StoreOpenError naming host:port, never the password.
 * - Later: the client reconnects forever in the background. Commands issued while it is disconnected wait in
 *   node-redis's offline queue for at most `operationTimeoutMs` and are then removed from the queue unsent and
 *   rejected — so a rejected write was not carried out. A command already sent when the server stalls is
 *   rejected after the same time, but may still have been applied (unavoidable over a network). Every
 *   operation is additionally bounded by our own timer, so nothing hangs.
 * - MULTI/EXEC is avoided (node-redis applies no queue timeout to it): deleteMany is one UNLINK, getMany one
 *   MGET, and setMany falls back to one SET per entry inside Keyv (not atomic — write one key per record).
 * - A connection that stays silent is detected by a PING every `pingIntervalMs` and a socket idle timeout,
 *   then re-established.
 */

export const DEFAULT_REDIS_OPERATION_TIMEOUT_MS = 5_000;
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 5_000;
/** No byte from Redis for this long (pings included) → the socket is dropped and re-opened. */
const SOCKET_IDLE_TIMEOUT_MS = 3 * PING_INTERVAL_MS;
const CLEAR_BATCH = 500;

export interface RedisStoreOptions {
  logger: Logger;
  operationTimeoutMs?: number;
  connectTimeoutMs?: number;
}

type RedisClient = ReturnType<typeof createClient>;

export async function openRedisStore(target: RedisStoreTarget, options: RedisStoreOptions): Promise<Store> {
  const { logger } = options;
  const operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_REDIS_OPERATION_TIMEOUT_MS;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_REDIS_CONNECT_TIMEOUT_MS;
  const startedAt = Date.now();
  let everReady = false;
  let lastError: unknown;
  let outageLogged = false;

  const client: RedisClient = createClient({
    url: target.url,
    socket: {
      connectTimeout: Math.min(connectTimeoutMs, 5_000),
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      reconnectStrategy: (retries, cause) => {
        const delayMs = Math.min(50 * 2 ** Math.min(retries, 6), 2_000) + Math.floor(Math.random() * 100);
        if (!everReady && (isAuthError(cause) || Date.now() - startedAt + delayMs > connectTimeoutMs)) {
          return false; // startup gives up: connect() rejects with this error
        }
        return delayMs;
      },
    },
    pingInterval: PING_INTERVAL_MS,
    commandOptions: { timeout: operationTimeoutMs },
  });
  client.on('error', (error: unknown) => {
    lastError = error;
    if (!everReady) {
      logger.debug({ store: target.description, err: errorMessage(error) }, 'Redis connection attempt failed');
    } else if (!outageLogged) {
      outageLogged = true;
      logger.warn(
        { store: target.description, err: errorMessage(error) },
        'Redis connection lost; reconnecting in the background (store operations fail meanwhile)',
      );
    }
  });
  client.on('ready', () => {
    if (everReady && outageLogged) {
      logger.info({ store: target.description }, 'Redis connection restored');
    }
    everReady = true;
    outageLogged = false;
  });

  try {
    await withDeadline(client.connect(), connectTimeoutMs + 1_000);
    await withDeadline(client.ping(), operationTimeoutMs);
  } catch (error) {
    destroyQuietly(client);
    // A startup that gave up rejects with the connection error itself; after our own deadline, the last
    // error the client reported says more than "no answer".
    const cause = error instanceof DeadlineError && lastError !== undefined ? lastError : error;
    const detail = errorMessage(cause);
    const hint = isAuthError(cause)
      ? 'Check the user and password in STORE_URL.'
      : 'Check that Redis is running and reachable from this host (and that the port and TLS setting, redis:// or rediss://, are right).';
    throw new StoreOpenError(
      `Cannot connect to Redis at ${target.address} (${target.description}): ${detail}. ${hint} ` +
        'To run without Redis, set STORE_URL=sqlite://data/bridge.sqlite.',
      { cause },
    );
  }
  logger.info({ store: target.description }, 'store opened');
  return new RedisStore(target, client, logger, operationTimeoutMs);
}

class RedisStore implements Store {
  readonly kind = 'redis';
  readonly description: string;
  readonly client: RedisClient;
  readonly #address: string;
  readonly #logger: Logger;
  readonly #operationTimeoutMs: number;
  readonly #adapters = new Map<string, RedisNamespaceAdapter>();
  readonly #inflight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(target: RedisStoreTarget, client: RedisClient, logger: Logger, operationTimeoutMs: number) {
    this.description = target.description;
    this.client = client;
    this.#address = target.address;
    this.#logger = logger;
    this.#operationTimeoutMs = operationTimeoutMs;
  }

  namespace<Value>(name: string, options?: NamespaceOptions): Keyv<Value> {
    assertNamespaceName(name);
    let adapter = this.#adapters.get(name);
    if (adapter === undefined) {
      // Each KeyvRedis adds one listener per client event; raise the limit so many namespaces do not warn.
      this.client.setMaxListeners(this.client.getMaxListeners() + 1);
      const inner = new KeyvRedis(this.client, { namespace: name, throwOnErrors: true, throwOnConnectError: true });
      adapter = new RedisNamespaceAdapter(this, inner, name);
      this.#adapters.set(name, adapter);
    }
    return createNamespaceKeyv<Value>(adapter, name, options);
  }

  async ping(): Promise<void> {
    await this.run('ping', () => this.client.ping());
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // New operations reject from now on; running ones end within the operation timeout.
    await Promise.allSettled([...this.#inflight]);
    if (this.client.isOpen) {
      if (this.client.isReady) {
        try {
          await withDeadline(this.client.close(), this.#operationTimeoutMs);
        } catch {
          destroyQuietly(this.client);
        }
      } else {
        destroyQuietly(this.client);
      }
    }
    this.#logger.info({ store: this.description }, 'store closed');
  }

  /** Runs one operation bounded by the operation timeout; every failure becomes a StoreOperationError. */
  run<T>(operation: string, body: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new StoreOperationError(`Cannot ${operation}: the store ${this.description} is closed.`, 'closed'),
      );
    }
    const timeoutMs = this.#operationTimeoutMs;
    const promise = withDeadline(Promise.resolve().then(body), timeoutMs).catch((error: unknown) => {
      if (error instanceof DeadlineError || isRedisTimeout(error)) {
        throw new StoreOperationError(
          `Redis at ${this.#address} did not complete ${operation} within ${timeoutMs} ms (unreachable, reconnecting or stalled).`,
          'timeout',
          { cause: error },
        );
      }
      throw new StoreOperationError(`Redis ${operation} failed at ${this.#address}: ${errorMessage(error)}`, 'failed', {
        cause: error,
      });
    });
    this.#inflight.add(promise);
    const forget = (): void => {
      this.#inflight.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }
}

class RedisNamespaceAdapter implements NamespaceAdapter {
  readonly opts: { readonly dialect: 'redis'; readonly url: string };
  readonly #store: RedisStore;
  readonly #inner: KeyvRedis<string>;
  readonly #name: string;

  constructor(store: RedisStore, inner: KeyvRedis<string>, name: string) {
    this.#store = store;
    this.#inner = inner;
    this.#name = name;
    this.opts = { dialect: 'redis', url: store.description };
  }

  get namespace(): string {
    return this.#name;
  }

  set namespace(value: string | undefined) {
    assertSameNamespace(this.#name, value);
  }

  #key(key: string): string {
    return this.#inner.createKeyPrefix(key, this.#name);
  }

  get(key: string): Promise<string | undefined> {
    return this.#store.run('get', () => this.#inner.get<string>(key));
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    if (keys.length === 0) {
      return [];
    }
    return this.#store.run('getMany', () => this.#inner.getMany<string>(keys));
  }

  set(key: string, value: string, ttl?: number): Promise<void> {
    return this.#store.run('set', () => this.#inner.set(key, value, ttl));
  }

  delete(key: string): Promise<boolean> {
    return this.#store.run('delete', () => this.#inner.delete(key));
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) {
      return false;
    }
    const removed = await this.#store.run('deleteMany', () => this.#store.client.unlink(keys.map((k) => this.#key(k))));
    return removed > 0;
  }

  /** SCAN + UNLINK of this namespace's keys (@keyv/redis's own clear() swallows errors). */
  async clear(): Promise<void> {
    const match = `${this.#key('')}*`;
    let cursor = '0';
    do {
      const reply = await this.#store.run('clear', () =>
        this.#store.client.scan(cursor, { MATCH: match, COUNT: CLEAR_BATCH, TYPE: 'string' }),
      );
      cursor = String(reply.cursor);
      const keys = reply.keys.map(String);
      if (keys.length > 0) {
        await this.#store.run('clear', () => this.#store.client.unlink(keys));
      }
    } while (cursor !== '0');
  }

  async *iterator(): AsyncGenerator<[string, string], void, undefined> {
    const inner = this.#inner.iterator<string>(this.#name);
    try {
      for (;;) {
        const step = await this.#store.run('iterate', () => inner.next());
        if (step.done === true) {
          return;
        }
        const [key, value] = step.value;
        if (value !== undefined) {
          yield [key, value];
        }
      }
    } finally {
      // Not awaited: after a timeout the inner step may still be pending, and return() would wait for it.
      inner.return(undefined).catch(() => undefined);
    }
  }

  on(): this {
    return this;
  }
}

class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/** Rejects with DeadlineError when `promise` has not settled within `ms` (the timer never keeps the process up). */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Retrying cannot fix credentials, so startup gives up at once on these. */
function isAuthError(error: unknown): boolean {
  return /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i.test(errorMessage(error));
}

/** node-redis rejects a command that waited too long in its offline queue with a message-less TimeoutError. */
function isRedisTimeout(error: unknown): boolean {
  let proto: unknown = error !== null && typeof error === 'object' ? Object.getPrototypeOf(error) : null;
  while (proto !== null && typeof proto === 'object') {
    const ctor: unknown = Reflect.get(proto, 'constructor');
    if (typeof ctor === 'function' && ctor.name === 'TimeoutError') {
      return true;
    }
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

function destroyQuietly(client: RedisClient): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}
