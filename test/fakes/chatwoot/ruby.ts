import { isParamHash, type ParamValue, UploadedFile } from './params.ts';

/** Ruby's `present?`: nil, false, blank strings and empty collections are not present. */
export function present(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === 'string') return value.trim().length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof UploadedFile) return true;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** Ruby's `String#to_i`: leading integer or 0. */
export function toI(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : 0;
  if (typeof value === 'boolean') return 0;
  if (typeof value !== 'string') return 0;
  const match = /^\s*([+-]?\d[\d_]*)/.exec(value);
  return match?.[1] ? Number.parseInt(match[1].replaceAll('_', ''), 10) : 0;
}

/** ActiveModel's integer cast, as used by `find(id)`/`find_by(display_id:)`: non-numeric strings become nil. */
export function castInteger(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value !== 'string') return null;
  return /^\s*[+-]?\d/.test(value) ? toI(value) : null;
}

const FALSE_VALUES = new Set(['0', 'f', 'F', 'false', 'FALSE', 'off', 'OFF']);

/** ActiveModel's boolean cast. */
export function castBoolean(value: unknown): boolean | null {
  if (value === null || value === undefined || value === '') return null;
  if (value === false || value === 0) return false;
  if (typeof value === 'string' && FALSE_VALUES.has(value)) return false;
  return true;
}

/** ActiveModel's string cast for a text column. */
export function castText(value: ParamValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  if (value instanceof UploadedFile) return value.filename;
  return JSON.stringify(value);
}

/** Ruby's `String#strip` (ASCII whitespace and NUL only). */
export function rubyStrip(value: string): string {
  return value.replace(/^[\s\0]+|[\s\0]+$/g, '');
}

/** Codepoint length, which is what Ruby's `String#length` and Rails' length validator count. */
export function charLength(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

/** A Postgres LIKE/ILIKE pattern as a RegExp: `%` is any run, `_` one character, `\` escapes. */
export function likePattern(pattern: string, caseInsensitive: boolean): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] ?? '';
    if (char === '\\' && i + 1 < pattern.length) {
      i += 1;
      source += escapeRegExp(pattern[i] ?? '');
    } else if (char === '%') source += '[\\s\\S]*';
    else if (char === '_') source += '[\\s\\S]';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'iu' : 'u');
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** `.to_i` of a time: unix seconds, nil → 0. */
export function seconds(ms: number | null): number {
  return ms === null ? 0 : Math.floor(ms / 1000);
}

/** ActiveSupport's JSON time format: ISO 8601 with milliseconds in UTC. */
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** `Time#to_fs(:db)` in UTC. */
export function dbTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** ActiveSupport's JSON encoder escapes HTML-significant characters and line separators. */
export function railsJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/** ActiveModel::Errors#full_messages for one attribute. */
export function fullMessage(attribute: string, message: string): string {
  if (attribute === 'base') return message;
  const human = attribute.replace(/_id$/, '').replaceAll(/[_.]/g, ' ');
  return `${human.charAt(0).toUpperCase()}${human.slice(1)} ${message}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return isParamHash(value);
}

/** Deep copy of JSON-like data so callers never share mutable state with the store. */
export function cloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

// Exceptions the Rails controllers turn into responses (RequestExceptionHandler).

export class RecordNotFound extends Error {
  override name = 'RecordNotFound';
}

export class RecordInvalid extends Error {
  override name = 'RecordInvalid';
  readonly fullMessages: readonly string[];
  readonly attributes: readonly string[];

  constructor(errors: ReadonlyArray<readonly [attribute: string, message: string]>) {
    const fullMessages = errors.map(([attribute, message]) => fullMessage(attribute, message));
    super(`Validation failed: ${fullMessages.join(', ')}`);
    this.fullMessages = fullMessages;
    this.attributes = [...new Set(errors.map(([attribute]) => attribute))];
  }
}

export class ParameterMissing extends Error {
  override name = 'ParameterMissing';

  constructor(param: string) {
    super(`param is missing or the value is empty: ${param}`);
  }
}

/** Pundit::NotAuthorizedError, rendered as 401 by Chatwoot. */
export class NotAuthorized extends Error {
  override name = 'NotAuthorized';
}

/** A Ruby exception that Chatwoot does not rescue: production Rails answers 500. */
export class UnhandledError extends Error {
  override name = 'UnhandledError';
}
