/** Opening the configured store failed; the message says what to change. */
export class StoreOpenError extends Error {
  readonly code = 'store_unavailable';
  override readonly name = 'StoreOpenError';
}

/** Why a store operation failed. */
export type StoreFailureReason =
  /** The store was closed by this process. */
  | 'closed'
  /** The store did not answer in time (Redis down, unreachable or stalled). */
  | 'timeout'
  /** The store answered with an error, or the connection broke. */
  | 'failed';

/**
 * A read or write was not carried out (or, for `timeout`, its outcome is unknown). Every Keyv handed out by
 * a Store rejects with this error, so callers can test `error.code === 'store_unavailable'` for any backend.
 */
export class StoreOperationError extends Error {
  readonly code = 'store_unavailable';
  override readonly name = 'StoreOperationError';
  readonly reason: StoreFailureReason;

  constructor(message: string, reason: StoreFailureReason, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** A one-line description of any thrown value (AggregateErrors, e.g. from dual-stack connects, included). */
export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') {
    const inner: unknown[] = error.errors;
    return [...new Set(inner.map(errorMessage))].join('; ');
  }
  if (error instanceof Error) {
    return error.message === '' ? error.name : error.message;
  }
  return String(error);
}
