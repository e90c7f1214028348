import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { StoreOpenError } from './errors.ts';
import { openRedisStore } from './redis-store.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { parseStoreUrl } from './store-url.ts';
import type { Store } from './types.ts';

export { type StoreFailureReason, StoreOpenError, StoreOperationError } from './errors.ts';
export { iterateNamespace } from './namespace-keyv.ts';
export { DEFAULT_REDIS_CONNECT_TIMEOUT_MS, DEFAULT_REDIS_OPERATION_TIMEOUT_MS } from './redis-store.ts';
export { DEFAULT_SWEEP_INTERVAL_MS } from './sqlite-store.ts';
export {
  ACCEPTED_STORE_URLS,
  describeStoreUrl,
  type ParsedStoreUrl,
  parseStoreUrl,
  type StoreKind,
  type StoreTarget,
} from './store-url.ts';
export type { NamespaceOptions, Store } from './types.ts';

export interface OpenStoreDeps {
  logger: Logger;
  /** Accepted for symmetry with the other modules; data TTLs follow Keyv, which uses wall-clock time. */
  clock?: Clock;
  /** SQLite/memory: how often expired rows are deleted (default 60 s). */
  sweepIntervalMs?: number;
  /** Redis: bound on every operation, including time spent waiting for a reconnect (default 5 s). */
  operationTimeoutMs?: number;
  /** Redis: how long startup keeps trying to connect before giving up (default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * Opens the store named by STORE_URL: `memory://`, `sqlite://data/bridge.sqlite` (relative to the working
 * directory), `sqlite:///var/lib/bridge/bridge.sqlite` (absolute), `redis://[user:password@]host:port/db`,
 * `rediss://…`. Creates the SQLite parent folder. Throws StoreOpenError with an actionable message.
 */
export async function openStore(url: string, deps: OpenStoreDeps): Promise<Store> {
  for (const [name, value] of [
    ['sweepIntervalMs', deps.sweepIntervalMs],
    ['operationTimeoutMs', deps.operationTimeoutMs],
    ['connectTimeoutMs', deps.connectTimeoutMs],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`Invalid ${name} ${value}: use a positive whole number of milliseconds.`);
    }
  }
  const target = parseStoreUrl(url);
  if (!target.ok) {
    throw new StoreOpenError(target.message);
  }
  switch (target.kind) {
    case 'memory':
    case 'sqlite':
      return openSqliteStore(target, {
        logger: deps.logger,
        ...(deps.sweepIntervalMs === undefined ? {} : { sweepIntervalMs: deps.sweepIntervalMs }),
      });
    case 'redis':
      return openRedisStore(target, {
        logger: deps.logger,
        ...(deps.operationTimeoutMs === undefined ? {} : { operationTimeoutMs: deps.operationTimeoutMs }),
        ...(deps.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: deps.connectTimeoutMs }),
      });
  }
}
