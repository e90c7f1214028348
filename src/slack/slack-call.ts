import { ErrorCode } from '@slack/web-api';

/** The Web API methods the bridge writes with; everything goes through the Slack poster. */
export type SlackMethod = 'chat.postMessage' | 'chat.update' | 'chat.postEphemeral';

/** Calls one Web API method once (no retries inside) and returns the response body. */
export type SlackCall = (method: SlackMethod, args: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** Slack's own error codes that mean "try again later", not "this request is wrong". */
const TRANSIENT_CODES = new Set([
  'ratelimited',
  'request_failed',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/**
 * One failed Web API call. `code` is Slack's error string ('not_in_channel', 'message_not_found', …) or ours for
 * failures below the API ('ratelimited', 'http_<status>', 'request_failed', 'shutting_down'), so callers can
 * choose a fallback by code alone. `transient` says a later attempt can succeed without anyone changing anything.
 */
export class SlackCallError extends Error {
  override readonly name: string = 'SlackCallError';
  readonly code: string;
  /** How long Slack asked us to wait (`Retry-After`), for 'ratelimited'. */
  readonly retryAfterMs?: number;
  readonly transient: boolean;

  constructor(code: string, options: { retryAfterMs?: number | undefined; transient?: boolean; cause?: unknown } = {}) {
    super(`Slack call failed: ${code}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    this.transient = options.transient ?? (TRANSIENT_CODES.has(code) || /^http_5\d\d$/.test(code));
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Translates whatever a @slack/web-api call threw; anything unrecognised counts as a transient request failure. */
export function toSlackCallError(error: unknown): SlackCallError {
  if (error instanceof SlackCallError) return error;
  if (!isRecord(error)) return new SlackCallError('request_failed', { cause: error });
  switch (error['code']) {
    case ErrorCode.PlatformError: {
      const data = error['data'];
      const code = isRecord(data) && typeof data['error'] === 'string' ? data['error'] : 'unknown_error';
      // chat.postMessage may answer `ok: false, error: 'rate_limited'` instead of a 429; treat both alike.
      return new SlackCallError(code === 'rate_limited' ? 'ratelimited' : code, { cause: error });
    }
    case ErrorCode.RateLimitedError: {
      const seconds = error['retryAfter'];
      const retryAfterMs = typeof seconds === 'number' && Number.isFinite(seconds) ? seconds * 1000 : undefined;
      return new SlackCallError('ratelimited', { retryAfterMs, cause: error });
    }
    case ErrorCode.HTTPError: {
      const status = error['statusCode'];
      return new SlackCallError(typeof status === 'number' ? `http_${status}` : 'request_failed', { cause: error });
    }
    default:
      // ErrorCode.RequestError (network, timeout) and anything unknown.
      return new SlackCallError('request_failed', { cause: error });
  }
}

/**
 * Wraps a @slack/web-api WebClient into a SlackCall that throws SlackCallError. Build the client with
 * `rejectRateLimitedCalls: true` and `retryConfig: { retries: 0 }`: the poster owns waiting and retrying, and a
 * client that sleeps through a 429 on its own would hold the poster's lane without it knowing why. Give it a
 * `timeout` too: a lane has one call in flight, so a request that never answers would hold the lane.
 */
export function slackCallFrom(client: {
  apiCall(method: string, options?: Record<string, unknown>): Promise<unknown>;
}): SlackCall {
  return async (method, args) => {
    try {
      const body = await client.apiCall(method, args);
      return isRecord(body) ? body : {};
    } catch (error) {
      throw toSlackCallError(error);
    }
  };
}
