export type ChatwootErrorCode =
  | 'unauthorized'
  | 'not_found'
  | 'rejected'
  | 'rate_limited'
  | 'server'
  | 'network'
  | 'timeout'
  | 'bad_response'
  | 'busy';

/** Why Chatwoot answered 401: it uses 401 for six different problems, each with its own fix. */
export type UnauthorizedReason =
  | 'missing_token'
  | 'invalid_token'
  | 'bot_token'
  | 'not_in_account'
  | 'forbidden_action'
  | 'account_suspended'
  | 'unknown';

export interface ChatwootErrorDetails {
  readonly method: string;
  /** Path and query of the request; never carries the token, which travels in a header. */
  readonly endpoint: string;
  /** What was asked for, e.g. 'conversation 57'. */
  readonly subject?: string | undefined;
  readonly status?: number | undefined;
  readonly cause?: unknown;
}

/** Base of every failure talking to Chatwoot. `code` is stable; `advice` says what a person can do. */
export class ChatwootError extends Error {
  override readonly name: string = 'ChatwootError';
  readonly code: ChatwootErrorCode;
  readonly method: string;
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly advice: string;
  /** Chatwoot may have acted on the request although no answer arrived (a message may be stored). */
  readonly ambiguous: boolean;
  /** A later attempt can succeed without anyone changing anything. */
  readonly retryable: boolean;

  constructor(
    code: ChatwootErrorCode,
    summary: string,
    advice: string,
    details: ChatwootErrorDetails,
    flags: { ambiguous: boolean; retryable: boolean },
  ) {
    const status = details.status === undefined ? '' : `${details.status} `;
    super(`${summary} (${status}${details.method} ${details.endpoint}). ${advice}`, { cause: details.cause });
    this.code = code;
    this.method = details.method;
    this.endpoint = details.endpoint;
    this.status = details.status;
    this.advice = advice;
    this.ambiguous = flags.ambiguous;
    this.retryable = flags.retryable;
  }
}

export class ChatwootUnauthorizedError extends ChatwootError {
  override readonly name = 'ChatwootUnauthorizedError';
  readonly reason: UnauthorizedReason;
  constructor(reason: UnauthorizedReason, accountId: number, details: ChatwootErrorDetails) {
    super('unauthorized', 'Chatwoot refused the request', UNAUTHORIZED_ADVICE[reason](accountId), details, {
      ambiguous: false,
      retryable: false,
    });
    this.reason = reason;
  }
}

export class ChatwootNotFoundError extends ChatwootError {
  override readonly name = 'ChatwootNotFoundError';
  constructor(accountId: number, details: ChatwootErrorDetails) {
    const subject = details.subject ?? 'the resource';
    super(
      'not_found',
      `Chatwoot has no ${subject} in account ${accountId}`,
      `Check the ${subject.split(' ')[0]} id, and that CHATWOOT_ACCOUNT_ID (${accountId}) is the account it belongs to.`,
      details,
      { ambiguous: false, retryable: false },
    );
  }
}

/** 422: Chatwoot's own validation message, e.g. "Validation failed: Content is too long". */
export class ChatwootRejectedError extends ChatwootError {
  override readonly name = 'ChatwootRejectedError';
  readonly chatwootMessage: string;
  constructor(chatwootMessage: string, details: ChatwootErrorDetails) {
    super(
      'rejected',
      `Chatwoot rejected the request: ${chatwootMessage}`,
      'Nothing was stored; correct the request and try again.',
      details,
      { ambiguous: false, retryable: false },
    );
    this.chatwootMessage = chatwootMessage;
  }
}

/**
 * 429 from Rack::Attack (plain text, no Retry-After; the window is the server's current minute), or Chatwoot's
 * per-conversation flood limit (422 "Too many messages", 200 a minute). Nothing was stored either way.
 */
export class ChatwootRateLimitedError extends ChatwootError {
  override readonly name = 'ChatwootRateLimitedError';
  /** The server's clock when it answered (from the Date header), to find its next minute window. */
  readonly serverTime: number | undefined;
  readonly scope: 'ip' | 'contact_search' | 'conversation';
  constructor(
    scope: 'ip' | 'contact_search' | 'conversation',
    serverTime: number | undefined,
    details: ChatwootErrorDetails,
  ) {
    const summary =
      scope === 'conversation'
        ? 'Chatwoot refused more messages to this conversation this minute'
        : 'Chatwoot is rate limiting the bridge';
    const advice =
      scope === 'ip'
        ? 'The bridge waits for the next minute; if this repeats, lower CHATWOOT_REQUESTS_PER_MINUTE below the server’s RACK_ATTACK_LIMIT.'
        : 'The bridge waits for the next minute and tries again.';
    super('rate_limited', summary, advice, details, { ambiguous: false, retryable: true });
    this.serverTime = serverTime;
    this.scope = scope;
  }
}

export class ChatwootServerError extends ChatwootError {
  override readonly name = 'ChatwootServerError';
  constructor(ambiguous: boolean, details: ChatwootErrorDetails) {
    super(
      'server',
      `Chatwoot (or a proxy in front of it) failed with ${details.status ?? 'an error'}`,
      'The bridge retries with backoff; if it persists, check the Chatwoot server and its proxy.',
      details,
      { ambiguous, retryable: true },
    );
  }
}

export class ChatwootNetworkError extends ChatwootError {
  override readonly name = 'ChatwootNetworkError';
  readonly networkCode: string | undefined;
  constructor(networkCode: string | undefined, ambiguous: boolean, details: ChatwootErrorDetails) {
    super(
      'network',
      `Could not reach Chatwoot${networkCode === undefined ? '' : ` (${networkCode})`}`,
      'The bridge retries with backoff; check CHATWOOT_BASE_URL and that the server is up and reachable from here.',
      details,
      { ambiguous, retryable: true },
    );
    this.networkCode = networkCode;
  }
}

export class ChatwootTimeoutError extends ChatwootError {
  override readonly name = 'ChatwootTimeoutError';
  constructor(timeoutMs: number, details: ChatwootErrorDetails) {
    super(
      'timeout',
      `Chatwoot did not answer within ${formatSeconds(timeoutMs)}`,
      'The bridge retries; a slow Chatwoot is usually overloaded (CHATWOOT_TIMEOUT_SECONDS sets the limit).',
      details,
      { ambiguous: true, retryable: true },
    );
  }
}

/** An interactive request (Slack is waiting) could not be served before its deadline; nothing was sent. */
export class ChatwootBusyError extends ChatwootError {
  override readonly name = 'ChatwootBusyError';
  constructor(deadlineMs: number, details: ChatwootErrorDetails) {
    super(
      'busy',
      `Chatwoot did not answer within ${formatSeconds(deadlineMs)}`,
      'Chatwoot is slow or busy right now; try again in a moment.',
      details,
      { ambiguous: false, retryable: true },
    );
  }
}

/** Chatwoot answered, but not in the shape we rely on (a changed or unexpected server). */
export class ChatwootResponseError extends ChatwootError {
  override readonly name = 'ChatwootResponseError';
  readonly issues: readonly string[];
  constructor(issues: readonly string[], details: ChatwootErrorDetails) {
    super(
      'bad_response',
      `Chatwoot answered in an unexpected shape (${issues.slice(0, 3).join('; ')})`,
      'Check that CHATWOOT_BASE_URL points at Chatwoot itself (not a login page or proxy) and that its version is supported.',
      details,
      { ambiguous: false, retryable: false },
    );
    this.issues = issues;
  }
}

export function isChatwootError(value: unknown): value is ChatwootError {
  return value instanceof ChatwootError;
}

const UNAUTHORIZED_ADVICE: Record<UnauthorizedReason, (accountId: number) => string> = {
  missing_token: () =>
    'Chatwoot did not receive the api_access_token header: a proxy in front of Chatwoot may drop headers with underscores (nginx needs `underscores_in_headers on;`).',
  invalid_token: () =>
    'CHATWOOT_API_ACCESS_TOKEN is not a valid token: copy it again from Chatwoot → Profile settings → Access token.',
  bot_token: () =>
    'CHATWOOT_API_ACCESS_TOKEN belongs to an Agent Bot, which cannot look conversations up: use the token of a user (Profile settings → Access token).',
  not_in_account: (accountId) =>
    `The token's user is not a member of account ${accountId}: check CHATWOOT_ACCOUNT_ID or add the user to that account.`,
  forbidden_action: () =>
    "The token's user may not do this: add them to the WhatsApp inbox (Settings → Inboxes → Collaborators) or use an administrator's token.",
  account_suspended: (accountId) =>
    `Chatwoot account ${accountId} is suspended: ask your Chatwoot administrator to reactivate it.`,
  unknown: () => 'Check CHATWOOT_API_ACCESS_TOKEN and CHATWOOT_ACCOUNT_ID.',
};

/** Reads Chatwoot's 401 body (two shapes: `{error}` and devise's `{errors:[…]}`) into a reason. */
export function unauthorizedReason(body: unknown): UnauthorizedReason {
  const text = errorText(body)?.toLowerCase() ?? '';
  if (text.includes('sign in or sign up')) return 'missing_token';
  if (text.includes('invalid access token')) return 'invalid_token';
  if (text.includes('not authorized for bots')) return 'bot_token';
  if (text.includes('not authorized to access this account')) return 'not_in_account';
  if (text.includes('not authorized to do this action')) return 'forbidden_action';
  if (text.includes('suspended')) return 'account_suspended';
  return 'unknown';
}

/** Chatwoot's error bodies: `{error}`, `{errors:[…]}` or `{message, attributes}`. */
export function errorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() === '' ? undefined : body.trim().slice(0, 300);
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  if (typeof record['error'] === 'string') return record['error'];
  if (typeof record['message'] === 'string') return record['message'];
  const errors = record['errors'];
  if (Array.isArray(errors) && errors.every((item) => typeof item === 'string')) return errors.join('; ');
  return undefined;
}

function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
