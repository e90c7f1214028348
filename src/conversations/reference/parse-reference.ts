import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';
import { isSupportedCountry, parsePhoneNumberFromString, validatePhoneNumberLength } from 'libphonenumber-js/max';
import { formatPhoneInternational } from './phone.ts';

export type ConversationReference =
  | { kind: 'id'; conversationId: number; looksLikePhone: boolean }
  | { kind: 'url'; conversationId: number }
  | { kind: 'phone'; e164: string; country: string | undefined /* ISO code from libphonenumber */ };

export interface ReferenceOptions {
  accountId: number;
  /** Origins Chatwoot is reachable at, e.g. ['https://chat.example.com']; URLs must match one. */
  chatwootOrigins: readonly string[];
  /** ISO 3166 alpha-2, enables national-format numbers. */
  defaultRegion?: string | undefined;
}

export type ReferenceProblemCode =
  | 'usage'
  | 'invalid_phone'
  | 'ambiguous_phone'
  | 'national_without_region'
  | 'wrong_account'
  | 'wrong_host';

export interface ReferenceProblem {
  code: ReferenceProblemCode;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problem: ReferenceProblem };

export interface Target {
  reference: ConversationReference;
  /** The message text exactly as Slack sent it (still escaped), without the whitespace that separated it. */
  text: string;
}

/** Shown with every `usage` problem. */
export const REFERENCE_USAGE =
  'Usage: `/whatsapp send <conversation> <text>`, where <conversation> is a conversation id like 57 or #57, ' +
  'a Chatwoot conversation link, or a phone number like +44 20 7946 0958.';

/** A bare id with at least this many digits gets `looksLikePhone: true`. */
const PHONE_LIKE_ID_DIGITS = 7;
/** The phone number scan stops after this many tokens or once the digits exceed this count (E.164 max is 15). */
const MAX_PHONE_TOKENS = 10;
const MAX_PHONE_DIGITS = 20;

const QUOTES = new Set(['"', '“', '”']);
/** Invisible formatting characters that copy-paste (WhatsApp, browsers) puts around phone numbers. */
const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
const INVISIBLE_CHAR = /^[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]$/;
const LINE_BREAK = /[\n\r\v\f\u2028\u2029\u0085]/;
const SPACE = /\s/;
/** Characters a phone number may be written with: digits and `+ ( ) - . /` (plus spaces between groups). */
const PHONE_CHARS = /^[\d()\-./]+$/;

/** Chatwoot dashboard paths that show one conversation (see Chatwoot's `conversation.routes.js`). */
const CONVERSATION_PATH =
  /^\/app\/accounts\/(\d+)\/(?:(?:inbox|team|custom_view)\/\d+\/|label\/[^/]+\/|(?:mentions|unattended|participating)\/)?conversations\/(\d+)\/?$/;

/** Parses `<conversation> <text>`; `text` is returned exactly as Slack sent it. */
export function parseTarget(input: string, options: ReferenceOptions): ParseResult<Target> {
  const start = skip(input, 0, (ch) => SPACE.test(ch) || isInvisible(ch));
  if (start >= input.length) return usage('Say which conversation to send to, and what to send.');

  const found = readReference(input, start, options);
  if (!found.ok) return found;
  const { reference, end } = found.value;

  const next = input[end];
  if (next !== undefined && !SPACE.test(next)) {
    return usage(`Leave a space between the conversation and the message, after ${quote(input.slice(start, end))}.`);
  }
  const text = input.slice(end).replace(/^\s+/, '');
  if (text.replace(INVISIBLE, '').trim() === '') {
    return usage(`Add the message to send after ${quote(input.slice(start, end))}.`);
  }
  return { ok: true, value: { reference, text } };
}

/** Parses a reference alone (e.g. a modal field or `/whatsapp status <conversation>`). */
export function parseReference(input: string, options: ReferenceOptions): ParseResult<ConversationReference> {
  const s = input.replace(INVISIBLE, '').trim();
  if (s === '') return usage('Say which conversation you mean.');

  const first = s[0] ?? '';
  if (QUOTES.has(first)) {
    const inner = s.slice(1, -1);
    if (s.length < 2 || !QUOTES.has(s.slice(-1)) || [...inner].some((ch) => QUOTES.has(ch))) {
      return usage(`${quote(s)} is not a single quoted conversation.`);
    }
    return parseReference(inner, options);
  }

  if (first === '<') {
    const wrapped = parseSlackWrapper(s);
    if (wrapped === undefined) return usage(`${quote(s)} is not a conversation.`);
    if (wrapped.kind === 'tel') {
      const text = telText(wrapped);
      if (!text.ok) return text;
      return parseWholePhone(text.value, options);
    }
    if (wrapped.kind === 'url') return parseConversationUrl(wrapped.url, options);
    return usage(wrapped.reason);
  }

  if (first === '#') return parseHashId(s);
  if (/^[1-9]\d*$/.test(s)) return bareId(s);
  if (/^https?:\/\//i.test(s)) {
    if (/\s/.test(s)) return usage(`${quote(s)} is not a single link.`);
    return parseConversationUrl(unescapeSlack(s), options);
  }
  if (!LINE_BREAK.test(s) && isPhoneText(s.replace(/\s+/g, ''), true)) return parseWholePhone(s, options);
  return usage(notAReference(s));
}

/** A stable cache key for a reference: 'id:57', 'phone:+442079460958'. Ids and links to one conversation share it. */
export function referenceKey(reference: ConversationReference): string {
  return reference.kind === 'phone' ? `phone:${reference.e164}` : `id:${reference.conversationId}`;
}

/** Human text for a reference: '#57', '+44 20 7946 0958' (international format). */
export function describeReference(reference: ConversationReference): string {
  return reference.kind === 'phone' ? formatPhoneInternational(reference.e164) : `#${reference.conversationId}`;
}

// ---------------------------------------------------------------------------------------------------------------
// parseTarget: the reference at the start of the input

interface Found {
  reference: ConversationReference;
  /** Index in the input just after the reference. */
  end: number;
}

function readReference(s: string, start: number, options: ReferenceOptions): ParseResult<Found> {
  const first = s[start] ?? '';
  if (QUOTES.has(first)) return readQuoted(s, start, options);

  const token = readToken(s, start);
  const raw = token.raw.replace(INVISIBLE, '');
  const at = (result: ParseResult<ConversationReference>): ParseResult<Found> =>
    result.ok ? { ok: true, value: { reference: result.value, end: token.end } } : result;

  if (raw.startsWith('<')) {
    const wrapped = parseSlackWrapper(raw);
    if (wrapped === undefined) return usage(`${quote(raw)} is not a conversation.`);
    if (wrapped.kind === 'tel') return readPhone(s, token, options);
    if (wrapped.kind === 'url') return at(parseConversationUrl(wrapped.url, options));
    return usage(wrapped.reason);
  }
  if (raw.startsWith('#')) return at(parseHashId(raw));
  if (/^[1-9]\d*$/.test(raw)) return readBareId(s, token, raw, options);
  if (/^https?:\/\//i.test(raw)) return at(parseConversationUrl(unescapeSlack(raw), options));
  if (isPhoneText(raw, true) && looksLikePhoneStart(raw)) return readPhone(s, token, options);
  return usage(notAReference(raw));
}

function readQuoted(s: string, start: number, options: ReferenceOptions): ParseResult<Found> {
  let close = -1;
  for (let i = start + 1; i < s.length; i++) {
    if (QUOTES.has(s[i] ?? '')) {
      close = i;
      break;
    }
  }
  if (close === -1) return usage(`The quote before ${quote(s.slice(start + 1, start + 30))} is never closed.`);
  const inner = s.slice(start + 1, close);
  if (LINE_BREAK.test(inner)) return usage('Keep the quoted conversation on one line.');
  const result = parseReference(inner, options);
  return result.ok ? { ok: true, value: { reference: result.value, end: close + 1 } } : result;
}

/**
 * A first token of bare digits is always a conversation id. But when it and the digit groups after it on the same
 * line spell a phone number (`415 555 0123 hi`, `44 20 7946 0958 hi`), sending "555 0123 hi" to conversation 415
 * is the likelier mistake, so this refuses and asks for `#415` or a `+` number.
 */
function readBareId(s: string, token: Token, digits: string, options: ReferenceOptions): ParseResult<Found> {
  const id = bareId(digits);
  if (!id.ok) return id;
  const region = regionOf(options);
  const run = phoneRun(s, token, digits);
  if (!run.ok) return run;
  const tokens = run.value.glued === undefined ? run.value.tokens : [...run.value.tokens, run.value.glued];
  for (let k = tokens.length; k >= 2; k--) {
    const candidate = join(tokens.slice(0, k));
    const asPhone = spelledAsPhone(candidate, region);
    if (asPhone !== undefined) {
      const rest = s.slice(token.end).replace(/^\s+/, '');
      return problem(
        'ambiguous_phone',
        `${quote(candidate)} could be conversation ${digits} followed by ${quote(shorten(rest))}, or the phone ` +
          `number ${asPhone.formatInternational()}. Write #${digits} for the conversation, or the phone number ` +
          'starting with + and the country code.',
      );
    }
  }
  return { ok: true, value: { reference: id.value, end: token.end } };
}

/**
 * The phone number that digit groups after a bare id spell out in its canonical grouping: international without the
 * `+` (`44 20 7946 0958`, `1 415 555 0123`), or national for the default region, with or without the trunk 0
 * (`415 555 0123` in the US, `98765 43210` in India, `20 7946 0958` in the UK). Requiring the canonical grouping and
 * at least 7 digits keeps ordinary text such as `57 2024 report`, `57 100 units` (a valid Austrian short number) or
 * `812 2024 10 15 deadline` from being mistaken for a number.
 */
function spelledAsPhone(text: string, region: CountryCode | undefined): PhoneNumber | undefined {
  if (countDigits(text) < PHONE_LIKE_ID_DIGITS) return undefined;
  const groups = groupsOf(text).join(' ');
  const international = validNumber(`+${text}`, undefined);
  if (international !== undefined && groupsOf(international.formatInternational()).join(' ') === groups) {
    return international;
  }
  const national = region === undefined ? undefined : validNumber(text, region);
  if (national === undefined) return undefined;
  const written = groupsOf(national.formatNational()).join(' ');
  return written === groups || written.replace(/^0/, '') === groups ? national : undefined;
}

function groupsOf(text: string): string[] {
  return text.split(/\D+/).filter((group) => group !== '');
}

/**
 * The number ends at the longest run of phone tokens on the first line that is a valid number. When a shorter run
 * is valid too (variable-length numbering: `+49 30 1234567 89 boxes`), the split is a guess, so this refuses.
 */
function readPhone(s: string, first: Token, options: ReferenceOptions): ParseResult<Found> {
  const firstText = phoneTextOf(first.raw, true);
  if (firstText === undefined) return usage(notAReference(first.raw));
  if (!firstText.ok) return firstText;
  const run = phoneRun(s, first, firstText.value);
  if (!run.ok) return run;
  const { tokens, glued } = run.value;

  const mode = modeOf(tokens[0]?.text ?? '');
  const region = mode === 'national' ? nationalRegion(join(tokens), options) : { ok: true as const, value: undefined };
  if (!region.ok) return region;

  const valid: { count: number; number: PhoneNumber }[] = [];
  for (let k = 1; k <= tokens.length; k++) {
    const number = validNumber(normalize(join(tokens.slice(0, k)), mode), region.value);
    if (number !== undefined) valid.push({ count: k, number });
  }
  const withGlued =
    glued === undefined ? undefined : validNumber(normalize(join([...tokens, glued]), mode), region.value);

  const longest = valid.at(-1);
  if (longest === undefined) {
    if (withGlued !== undefined && glued !== undefined) {
      return usage(
        `The phone number ${withGlued.formatInternational()} runs into ${quote(glued.raw)}. ` +
          'Put a space between the number and the message.',
      );
    }
    const all = join(tokens);
    return invalidPhone(all, normalize(all, mode), region.value, tokens.length > 1);
  }
  const readings = valid.map((v) => ({ number: v.number, rest: s.slice(tokens[v.count - 1]?.end ?? first.end) }));
  if (withGlued !== undefined && glued !== undefined) {
    readings.push({
      number: withGlued,
      rest: glued.raw.replace(INVISIBLE, '').slice(glued.text.length) + s.slice(glued.end),
    });
  }
  if (new Set(readings.map((r) => r.number.number)).size > 1) {
    const described = readings.map(({ number, rest }) => {
      const after = rest.trim() === '' ? 'with no message' : `followed by ${quote(shorten(rest.replace(/^\s+/, '')))}`;
      return `${number.formatInternational()} ${after}`;
    });
    return problem(
      'ambiguous_phone',
      `Not sure where the phone number ends: it could be ${described.join(', or ')}. ` +
        'Put the number in quotes to say which: "<number>" <text>.',
    );
  }
  const lastToken = tokens[longest.count - 1];
  return {
    ok: true,
    value: { reference: phoneReference(longest.number), end: lastToken?.end ?? first.end },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

interface Token {
  raw: string;
  /** Index in the input just after the token. */
  end: number;
}

interface PhoneToken extends Token {
  /** The token as phone text: a Slack `<tel:…>` wrapper is replaced by what it shows. */
  text: string;
}

/** A run of non-space characters; a Slack `<…>` wrapper on one line counts as one token even if it has spaces. */
function readToken(s: string, start: number): Token {
  let i = start;
  while (i < s.length) {
    const ch = s[i] ?? '';
    if (SPACE.test(ch)) break;
    if (ch === '<') {
      const close = s.indexOf('>', i);
      if (close !== -1 && !LINE_BREAK.test(s.slice(i, close))) {
        i = close + 1;
        continue;
      }
    }
    i++;
  }
  return { raw: s.slice(start, i), end: i };
}

interface PhoneRun {
  tokens: PhoneToken[];
  /**
   * The digits that start the token the run stopped at, when that token is digits with other characters glued on
   * (`0958,` or `89!`): they might belong to the number, so they count when looking for ambiguity.
   */
  glued: PhoneToken | undefined;
}

/** The first token and the phone-looking tokens after it on the same line. */
function phoneRun(s: string, first: Token, firstText: string): ParseResult<PhoneRun> {
  const tokens: PhoneToken[] = [{ ...first, text: firstText }];
  let digits = countDigits(firstText);
  let pos = first.end;
  while (tokens.length < MAX_PHONE_TOKENS && digits <= MAX_PHONE_DIGITS) {
    pos = skip(s, pos, (ch) => SPACE.test(ch) && !LINE_BREAK.test(ch));
    if (pos >= s.length || LINE_BREAK.test(s[pos] ?? '')) break;
    const token = readToken(s, pos);
    const text = phoneTextOf(token.raw, false);
    if (text === undefined) {
      const prefix = /^[\d()\-./]*\d/.exec(token.raw.replace(INVISIBLE, ''))?.[0];
      const glued = prefix === undefined ? undefined : { ...token, text: prefix };
      return { ok: true, value: { tokens, glued } };
    }
    if (!text.ok) return text;
    tokens.push({ ...token, text: text.value });
    digits += countDigits(text.value);
    pos = token.end;
  }
  return { ok: true, value: { tokens, glued: undefined } };
}

/** The token as phone text, `undefined` when it is not part of a phone number. */
function phoneTextOf(raw: string, first: boolean): ParseResult<string> | undefined {
  const cleaned = raw.replace(INVISIBLE, '');
  if (cleaned.startsWith('<')) {
    const wrapped = parseSlackWrapper(cleaned);
    if (wrapped?.kind !== 'tel') return undefined;
    const text = telText(wrapped);
    if (!text.ok) return text;
    return isPhoneText(text.value.replace(/\s+/g, ''), first) ? text : undefined;
  }
  return isPhoneText(cleaned, first) ? { ok: true, value: cleaned } : undefined;
}

/** Phone characters with at least one digit; only the first token may start with `+` (or `(+`). */
function isPhoneText(text: string, first: boolean): boolean {
  const body = first ? text.replace(/^\(?\+/, '') : text;
  return PHONE_CHARS.test(body) && /\d/.test(body);
}

/**
 * A first token that starts a phone number: `+…`, `(+…`, `00…`, or a national number: a leading 0 (`020`, `057`),
 * an opening parenthesis (`(415)`) or digits with punctuation inside (`415-555-0123`). Bare digits without a
 * leading 0 are ids and handled before this.
 */
function looksLikePhoneStart(text: string): boolean {
  return /^\(?\+/.test(text) || /^\(?0/.test(text) || /^\(\d/.test(text) || /^\d+[-./]\d/.test(text);
}

function join(tokens: readonly PhoneToken[]): string {
  return tokens.map((t) => t.text).join(' ');
}

// ---------------------------------------------------------------------------------------------------------------
// Phone numbers

type PhoneMode = 'international' | 'national';

function modeOf(text: string): PhoneMode {
  return /^\(?(?:\+|00)/.test(text) ? 'international' : 'national';
}

/** `0044 …` → `+44 …`; `(+44) 20 …` → `+44 20 …`. National text is left to libphonenumber and the region. */
function normalize(text: string, mode: PhoneMode): string {
  if (mode === 'national') return text;
  return text.replace(/^(\(?)00/, '$1+').replace(/^\(\+(\d{1,3})\)/, '+$1');
}

/** The number when `text` is a valid phone number (no extension), in `region` when it is national. */
function validNumber(text: string, region: CountryCode | undefined): PhoneNumber | undefined {
  const options = region === undefined ? { extract: false } : { extract: false, defaultCountry: region };
  const number = parsePhoneNumberFromString(text, options);
  return number?.isValid() && number.ext === undefined ? number : undefined;
}

function phoneReference(number: PhoneNumber): ConversationReference {
  return { kind: 'phone', e164: number.number, country: number.country };
}

function parseWholePhone(text: string, options: ReferenceOptions): ParseResult<ConversationReference> {
  const mode = modeOf(text);
  const region = mode === 'national' ? nationalRegion(text, options) : { ok: true as const, value: undefined };
  if (!region.ok) return region;
  const normalized = normalize(text, mode);
  const number = validNumber(normalized, region.value);
  return number === undefined
    ? invalidPhone(text, normalized, region.value, false)
    : { ok: true, value: phoneReference(number) };
}

function regionOf(options: ReferenceOptions): CountryCode | undefined {
  const region = options.defaultRegion?.trim().toUpperCase();
  return region !== undefined && isSupportedCountry(region) ? region : undefined;
}

function nationalRegion(text: string, options: ReferenceOptions): ParseResult<CountryCode> {
  const region = regionOf(options);
  if (region !== undefined) return { ok: true, value: region };
  const configured = options.defaultRegion?.trim();
  const why =
    configured === undefined || configured === ''
      ? 'and no DEFAULT_PHONE_REGION is set'
      : `and DEFAULT_PHONE_REGION ${quote(configured)} is not a known ISO 3166 country code`;
  return problem(
    'national_without_region',
    `${quote(text)} has no country code ${why}. Write the number with + and the country code ` +
      '(e.g. +44 20 7946 0958), or set DEFAULT_PHONE_REGION (e.g. GB) to allow national numbers.',
  );
}

function invalidPhone(
  display: string,
  normalized: string,
  region: CountryCode | undefined,
  scanned: boolean,
): ParseResult<never> {
  const options = region === undefined ? {} : { defaultCountry: region };
  const length = validatePhoneNumberLength(normalized, options);
  const number = parsePhoneNumberFromString(normalized, { extract: false, ...options });
  const area = describeArea(number, region);
  let why: string;
  switch (length) {
    case 'INVALID_COUNTRY':
      why = 'it does not start with a known country calling code (like +44)';
      break;
    case 'TOO_SHORT':
      why = `it has too few digits for a ${area} number`;
      break;
    case 'TOO_LONG':
      why = `it has too many digits for a ${area} number`;
      break;
    case 'INVALID_LENGTH':
      why = `it has the wrong number of digits for a ${area} number`;
      break;
    case 'NOT_A_NUMBER':
      why = 'it is not a phone number';
      break;
    default:
      why = `it is not a ${area} number in use (no such number range)`;
  }
  const hint = scanned && length === 'TOO_LONG' ? ' If the message starts with digits, put the number in quotes.' : '';
  return problem('invalid_phone', `${quote(display)} is not a valid phone number: ${why}.${hint}`);
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** `United Kingdom (+44)`, or `+1` when the calling code alone does not tell the country. */
function describeArea(number: PhoneNumber | undefined, region: CountryCode | undefined): string {
  const callingCode = number?.countryCallingCode;
  // libphonenumber lists a calling code's main country first (GB before GG, IM and JE for +44).
  const country = number?.country ?? number?.getPossibleCountries()[0] ?? region;
  const name = country === undefined ? undefined : (regionNames.of(country) ?? country);
  if (callingCode === undefined) return name ?? 'known';
  return name === undefined ? `+${callingCode}` : `${name} (+${callingCode})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Slack wrappers, ids, links

type SlackWrapper =
  | { kind: 'tel'; target: string; label: string | undefined }
  | { kind: 'url'; url: string }
  | { kind: 'other'; reason: string };

/** `<tel:+14155550123|+1 415 555 0123>`, `<https://…|…>`, `<https://…>`, `<@U123>`, `<mailto:…|…>`. */
function parseSlackWrapper(text: string): SlackWrapper | undefined {
  const match = /^<([^<>|]*)(?:\|([^<>]*))?>$/.exec(text);
  if (!match) return undefined;
  const target = match[1] ?? '';
  const label = match[2];
  if (/^tel:/i.test(target)) return { kind: 'tel', target: target.slice(4), label };
  if (/^https?:\/\//i.test(target)) return { kind: 'url', url: unescapeSlack(target) };
  if (/^mailto:/i.test(target)) {
    return { kind: 'other', reason: `${label ?? target.slice(7)} is an email address, not a conversation.` };
  }
  if (/^[@#!]/.test(target)) {
    return { kind: 'other', reason: `${label ?? target} is a Slack mention, not a conversation.` };
  }
  return { kind: 'other', reason: `${quote(label ?? target)} is not a conversation.` };
}

/** What a `<tel:…>` wrapper shows; refused when Slack's link and the shown text have different digits. */
function telText(wrapper: { target: string; label: string | undefined }): ParseResult<string> {
  const target = decodeSafe(wrapper.target).trim();
  if (wrapper.label === undefined) return { ok: true, value: target };
  const label = wrapper.label.trim();
  if (digitsOf(label) !== digitsOf(target)) {
    return problem(
      'ambiguous_phone',
      `Slack turned ${quote(label)} into a link to ${quote(target)}, which has different digits. ` +
        'Write the number with + and the country code, or put it in quotes.',
    );
  }
  return { ok: true, value: label };
}

function parseHashId(text: string): ParseResult<ConversationReference> {
  const digits = text.slice(1);
  if (!/^[1-9]\d*$/.test(digits)) {
    return usage(/[,;:!?.]$/.test(text) ? notAReference(text) : `${quote(text)} is not a conversation id.`);
  }
  const id = toId(digits);
  return id === undefined
    ? usage(`${quote(text)} is too large to be a conversation id.`)
    : { ok: true, value: { kind: 'id', conversationId: id, looksLikePhone: false } };
}

function bareId(digits: string): ParseResult<ConversationReference> {
  const id = toId(digits);
  if (id === undefined) {
    return usage(
      `${digits} is too large to be a conversation id. To send to a phone number, start it with + and the country code.`,
    );
  }
  return { ok: true, value: { kind: 'id', conversationId: id, looksLikePhone: digits.length >= PHONE_LIKE_ID_DIGITS } };
}

function toId(digits: string): number | undefined {
  const id = Number(digits);
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

function parseConversationUrl(text: string, options: ReferenceOptions): ParseResult<ConversationReference> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return usage(`${quote(text)} is not a valid link.`);
  }
  const origins = configuredOrigins(options.chatwootOrigins);
  if (!origins.includes(url.origin)) {
    const expected = origins.length === 0 ? 'no Chatwoot address is configured' : `expected ${origins.join(' or ')}`;
    return problem(
      'wrong_host',
      `That link points to ${url.origin}, which is not this Chatwoot (${expected}). ` +
        'A conversation on another Chatwoot server is a different person.',
    );
  }
  const match = CONVERSATION_PATH.exec(url.pathname);
  const account = match?.[1];
  const conversation = match?.[2];
  if (account === undefined || conversation === undefined) {
    return usage('That Chatwoot link is not a link to a conversation. Open the conversation and copy its address.');
  }
  if (!/^[1-9]\d*$/.test(account) || Number(account) !== options.accountId) {
    return problem(
      'wrong_account',
      `That link is for Chatwoot account ${account}, but this app works with account ${options.accountId}.`,
    );
  }
  const id = /^[1-9]\d*$/.test(conversation) ? toId(conversation) : undefined;
  if (id === undefined) return usage(`That link has no valid conversation id (${quote(conversation)}).`);
  return { ok: true, value: { kind: 'url', conversationId: id } };
}

function configuredOrigins(origins: readonly string[]): string[] {
  const result: string[] = [];
  for (const origin of origins) {
    try {
      const parsed = new URL(origin.trim());
      if (parsed.protocol === 'https:' || parsed.protocol === 'http:') result.push(parsed.origin);
    } catch {
      // An unreadable configured origin matches nothing.
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function usage(reason: string): { ok: false; problem: ReferenceProblem } {
  return problem('usage', `${reason}\n${REFERENCE_USAGE}`);
}

function problem(code: ReferenceProblemCode, message: string): { ok: false; problem: ReferenceProblem } {
  return { ok: false, problem: { code, message } };
}

function notAReference(text: string): string {
  if (/^(?:#|\(?\+)?[\d()\-./]*\d[,;:!?.]+$/.test(text)) {
    return `${quote(text)} has punctuation attached. Put only a space between the conversation and the message.`;
  }
  if (/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(text)) {
    return `${quote(text)} is an email address, not a conversation.`;
  }
  return `${quote(shorten(text))} is not a conversation id, Chatwoot conversation link or phone number.`;
}

/** Slack escapes `&`, `<` and `>` in slash-command text. */
function unescapeSlack(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_, name: string) => (name === 'amp' ? '&' : name === 'lt' ? '<' : '>'));
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function skip(s: string, start: number, predicate: (ch: string) => boolean): number {
  let i = start;
  while (i < s.length && predicate(s[i] ?? '')) i++;
  return i;
}

function isInvisible(ch: string): boolean {
  return INVISIBLE_CHAR.test(ch);
}

function countDigits(text: string): number {
  return digitsOf(text).length;
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, '');
}

function quote(text: string): string {
  return `“${text}”`;
}

function shorten(text: string): string {
  const firstLine = text.split(LINE_BREAK)[0] ?? '';
  return firstLine.length > 40 ? `${firstLine.slice(0, 39)}…` : firstLine;
}
