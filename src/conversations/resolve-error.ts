export type ResolveErrorCode =
  | 'conversation_not_found'
  | 'unknown_number'
  | 'not_whatsapp'
  | 'no_whatsapp_inbox'
  | 'inbox_ambiguous'
  | 'inbox_not_visible';

/** The reference cannot be turned into a conversation the bridge may write to; a person must fix something. */
export class ResolveError extends Error {
  override readonly name = 'ResolveError';
  readonly code: ResolveErrorCode;
  /** What happened, in plain words for the Slack user. */
  readonly summary: string;
  /** What to do about it. */
  readonly advice: string;

  constructor(code: ResolveErrorCode, summary: string, advice: string) {
    super(`${summary} ${advice}`);
    this.code = code;
    this.summary = summary;
    this.advice = advice;
  }
}
