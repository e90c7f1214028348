import type { Keyv } from 'keyv';
import type { StoreKind } from './store-url.ts';

export interface NamespaceOptions {
  /** Default time to live of the values written through this Keyv; none when omitted. */
  ttlMs?: number;
}

export interface Store {
  readonly kind: StoreKind;
  /** For logs and `check`: URL with any password masked. */
  readonly description: string;
  /**
   * A Keyv bound to one namespace; every operation rejects (with a StoreOperationError) on a store error.
   * Names: letters, digits, "_", "-" and ".", at most 64 characters, no ":". Iterate with `iterateNamespace`.
   */
  namespace<Value>(name: string, options?: NamespaceOptions): Keyv<Value>;
  /** Cheap round trip for readiness checks; rejects when the store is unusable. */
  ping(): Promise<void>;
  /** Stops timers and closes connections; afterwards every operation rejects. Idempotent. */
  close(): Promise<void>;
}
