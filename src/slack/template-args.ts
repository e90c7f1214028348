/**
 * The arguments of `/whatsapp template <conversation> <template-name> [lang=xx_YY] [var=value ...]`, after the
 * conversation: the template's name, an optional language, and its variables (`1=Jane`, `customer_name=Jane`,
 * quoted when the value has spaces: `2="order 4411"`, with straight or curly quotes).
 */
export interface TemplateArgs {
  readonly name: string;
  readonly language: string | undefined;
  readonly values: Readonly<Record<string, string>>;
}

export type TemplateArgsResult = { ok: true; value: TemplateArgs } | { ok: false; message: string };

const OPEN_QUOTES = new Set(['"', '“', '”']);

/** Slack's escaping and auto-links undone: a template variable is sent to WhatsApp as the characters typed. */
export function plainSlackText(text: string): string {
  return text
    .replace(/<(?:https?:\/\/|mailto:|tel:)[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<(?:mailto:|tel:)([^|>]*)>/g, '$1')
    .replace(/<(https?:\/\/[^|>]*)>/g, '$1')
    .replace(/<@[UW][A-Z0-9]+\|([^>]*)>/g, '@$1')
    .replace(/<#[CG][A-Z0-9]+\|([^>]*)>/g, '#$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Splits on whitespace, keeping quoted runs together (quotes removed). */
function tokens(input: string): { ok: true; tokens: string[] } | { ok: false; message: string } {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (const ch of input) {
    if (OPEN_QUOTES.has(ch)) {
      quoted = !quoted;
      started = true;
      continue;
    }
    if (!quoted && /\s/.test(ch)) {
      if (started) out.push(current);
      current = '';
      started = false;
      continue;
    }
    current += ch;
    started = true;
  }
  if (quoted)
    return { ok: false, message: 'A quote is not closed: put the value between two quotes, e.g. 2="order 4411".' };
  if (started) out.push(current);
  return { ok: true, tokens: out };
}

export function parseTemplateArgs(input: string): TemplateArgsResult {
  const split = tokens(plainSlackText(input).trim());
  if (!split.ok) return split;
  const [name, ...rest] = split.tokens;
  if (name === undefined || name === '') {
    return { ok: false, message: 'Name the template after the conversation (`/whatsapp templates` lists them).' };
  }
  if (name.includes('=')) {
    return { ok: false, message: `Name the template before its variables (got "${name}").` };
  }
  let language: string | undefined;
  const values: Record<string, string> = {};
  for (const token of rest) {
    const at = token.indexOf('=');
    if (at <= 0) {
      return {
        ok: false,
        message: `"${token}" is not a variable: write key=value (e.g. 1=Jane), quoting values with spaces: 2="order 4411".`,
      };
    }
    const key = token.slice(0, at).trim();
    const value = token.slice(at + 1);
    if (key === 'lang' || key === 'language') language = value;
    else values[key] = value;
  }
  return { ok: true, value: { name, language, values } };
}
