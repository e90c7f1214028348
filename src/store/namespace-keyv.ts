import { Keyv, type KeyvStoreAdapter } from 'keyv';
import type { NamespaceOptions } from './types.ts';

/**
 * The adapter shape this module implements. Keyv's own `KeyvStoreAdapter` type is loose (`any` values, a
 * generic `get`); adapters always exchange Keyv's serialised strings, so ours say so and are converted once,
 * in `createNamespaceKeyv`.
 *
 * Keys arrive without the namespace (every Keyv is created with `useKeyPrefix: false`) and the adapter adds it,
 * as @keyv/redis does. This avoids Keyv's own prefixing, which leaves a key that already starts with
 * `<namespace>:` unprefixed, and which cuts iterated keys at their first ":".
 */
export interface NamespaceAdapter {
  readonly opts: { readonly dialect: 'sqlite' | 'redis'; readonly url: string };
  /** Fixed at creation: Keyv assigns it on construction (to the same value); any other value throws. */
  namespace: string | undefined;
  get(key: string): Promise<string | undefined>;
  getMany(keys: string[]): Promise<Array<string | undefined>>;
  set(key: string, value: string, ttl?: number): Promise<void>;
  delete(key: string): Promise<boolean>;
  deleteMany(keys: string[]): Promise<boolean>;
  /** Deletes this namespace only. */
  clear(): Promise<void>;
  /** Entries of this namespace only, keys without the namespace, values serialised. */
  iterator(namespace?: string): AsyncGenerator<[string, string], void, undefined>;
  /** Keyv subscribes to "error"; our adapters never emit, they reject. */
  on(event: string, listener: (...args: unknown[]) => void): NamespaceAdapter;
}

/** Letters, digits, "_", "-", "."; no ":" (the key separator) and nothing SQL LIKE or Redis MATCH would expand. */
const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function assertNamespaceName(name: string): void {
  if (!NAMESPACE_PATTERN.test(name)) {
    throw new TypeError(
      `Invalid store namespace "${name}": use 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit.`,
    );
  }
}

export function assertSameNamespace(fixed: string, requested: string | undefined): void {
  if (requested !== fixed) {
    throw new TypeError(
      `This Keyv is bound to the store namespace "${fixed}"; call store.namespace("${String(requested)}") for another one.`,
    );
  }
}

export function createNamespaceKeyv<Value>(
  adapter: NamespaceAdapter,
  name: string,
  options: NamespaceOptions | undefined,
): Keyv<Value> {
  const ttlMs = options?.ttlMs;
  if (ttlMs !== undefined && !(Number.isInteger(ttlMs) && ttlMs > 0)) {
    throw new TypeError(
      `Invalid ttlMs ${ttlMs} for store namespace "${name}": use a positive whole number of milliseconds.`,
    );
  }
  // The one place where our strictly typed adapter meets Keyv's loose adapter type (see NamespaceAdapter).
  const store = adapter as unknown as KeyvStoreAdapter;
  return new Keyv<Value>(store, {
    namespace: name,
    useKeyPrefix: false,
    // Keyv swallows store errors unless told otherwise; the durable queue must see every failed write.
    throwOnErrors: true,
    // Keyv's default serializer walks values in JS to escape strings that begin with ':' (its Buffer marker); our
    // values are plain JSON, and native JSON is several times cheaper on the hot path (one write per send step).
    serialize: JSON.stringify,
    deserialize: JSON.parse,
    ...(ttlMs === undefined ? {} : { ttl: ttlMs }),
  });
}

/**
 * Typed iteration over one namespace of a Keyv from `Store.namespace()` (Keyv types its iterator as `any`).
 * Expired entries are skipped (and deleted). Rejects on a store error like every other operation.
 */
export async function* iterateNamespace<Value>(
  keyv: Keyv<Value>,
): AsyncGenerator<[key: string, value: Value], void, undefined> {
  const iterator = keyv.iterator;
  if (iterator === undefined) {
    throw new TypeError('This Keyv cannot be iterated; iterate a Keyv obtained from Store.namespace().');
  }
  for await (const entry of iterator(undefined)) {
    const pair: unknown = entry;
    if (!Array.isArray(pair) || typeof pair[0] !== 'string') {
      throw new TypeError('Unexpected entry from the Keyv iterator.');
    }
    const value: unknown = pair[1];
    yield [pair[0], value as Value];
  }
}
