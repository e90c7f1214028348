/** Exit codes scripts can rely on; documented in the README. */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  /** Chatwoot or the store could not be reached (temporary: try again later). */
  unavailable: 4,
  /** Chatwoot refused the token or its permissions. */
  unauthorized: 5,
  /** The conversation, number or WhatsApp inbox does not exist. */
  notFound: 6,
  /** Refused before sending: window closed, not WhatsApp, text too long, rejected by Chatwoot. */
  refused: 7,
  /** Chatwoot accepted the message but WhatsApp did not take it. */
  whatsappFailed: 8,
  /** `--timeout` passed before the awaited state; the message may still go out. */
  timeout: 9,
  /** Another bridge process is using the store. */
  storeInUse: 10,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_FAILURE: Record<string, ExitCode> = {
  window_closed: EXIT.refused,
  not_whatsapp: EXIT.refused,
  text_too_long: EXIT.refused,
  text_empty: EXIT.usage,
  chatwoot_rejected: EXIT.refused,
  media_refused: EXIT.refused,
  file_unavailable: EXIT.unavailable,
  conversation_not_found: EXIT.notFound,
  unknown_number: EXIT.notFound,
  no_whatsapp_inbox: EXIT.notFound,
  not_found: EXIT.notFound,
  inbox_ambiguous: EXIT.config,
  inbox_not_visible: EXIT.unauthorized,
  chatwoot_unauthorized: EXIT.unauthorized,
  unauthorized: EXIT.unauthorized,
  chatwoot_unavailable: EXIT.unavailable,
  chatwoot_unexpected: EXIT.unavailable,
  bad_response: EXIT.unavailable,
  network: EXIT.unavailable,
  server: EXIT.unavailable,
  timeout: EXIT.unavailable,
  busy: EXIT.unavailable,
  rate_limited: EXIT.unavailable,
  rejected: EXIT.refused,
  whatsapp_failed: EXIT.whatsappFailed,
  store_unavailable: EXIT.unavailable,
  templates_invalid: EXIT.config,
  store_in_use: EXIT.storeInUse,
};

/** The exit code for a failure or error code from anywhere in the bridge. */
export function exitCodeFor(code: string): ExitCode {
  return BY_FAILURE[code] ?? EXIT.internal;
}
