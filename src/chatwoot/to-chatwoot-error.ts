import { isNetworkError, isTimeoutError } from 'ky';
import {
  type ChatwootError,
  type ChatwootErrorDetails,
  ChatwootNetworkError,
  ChatwootNotFoundError,
  ChatwootRateLimitedError,
  ChatwootRejectedError,
  ChatwootServerError,
  ChatwootTimeoutError,
  ChatwootUnauthorizedError,
  errorText,
  unauthorizedReason,
} from './errors.ts';

/** Failures that prove the request never reached Chatwoot, so nothing can have been stored. */
const NOT_CONNECTED_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** An HTTP error status (with Chatwoot's body) as a ChatwootError. */
export function fromStatus(
  response: Response,
  body: unknown,
  isWrite: boolean,
  account: number,
  details: ChatwootErrorDetails,
): ChatwootError {
  const status = response.status;
  const withStatus = { ...details, status };
  if (status === 401 || status === 403) {
    const reason = status === 403 ? 'forbidden_action' : unauthorizedReason(body);
    return new ChatwootUnauthorizedError(reason, account, withStatus);
  }
  if (status === 404) return new ChatwootNotFoundError(account, withStatus);
  if (status === 429) {
    const date = Date.parse(response.headers.get('date') ?? '');
    return new ChatwootRateLimitedError(
      withStatus.endpoint.includes('/contacts/search') ? 'contact_search' : 'ip',
      Number.isNaN(date) ? undefined : date,
      withStatus,
    );
  }
  const text = errorText(body);
  if (status === 422 && text?.includes('Too many messages') === true) {
    return new ChatwootRateLimitedError('conversation', undefined, withStatus);
  }
  // Any 5xx on a write may come after the message was stored (a proxy timing out, a failing render).
  if (status >= 500) return new ChatwootServerError(isWrite, withStatus);
  return new ChatwootRejectedError(text ?? `HTTP ${status}`, withStatus);
}

/**
 * A failure with no HTTP answer (timeout, reset, refused) as a ChatwootError; aborts by the caller pass through.
 * For a write, it is ambiguous unless the failure proves the request never reached Chatwoot.
 */
export function fromTransportError(
  thrown: unknown,
  isWrite: boolean,
  timeoutMs: number,
  details: ChatwootErrorDetails,
): unknown {
  if (isTimeoutError(thrown)) return new ChatwootTimeoutError(timeoutMs, { ...details, cause: thrown });
  if (thrown instanceof DOMException && (thrown.name === 'AbortError' || thrown.name === 'TimeoutError')) return thrown;
  const code = networkCode(thrown);
  if (isNetworkError(thrown) || code !== undefined || thrown instanceof TypeError) {
    const connected = code === undefined || !NOT_CONNECTED_CODES.has(code);
    return new ChatwootNetworkError(code, isWrite && connected, { ...details, cause: thrown });
  }
  return thrown;
}

/** The first `code` in an error's cause chain (undici puts ECONNRESET and friends there). */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
