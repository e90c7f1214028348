import { type MentionNames, parseSlack, renderCommonMark, renderWhatsApp } from './slack-to-commonmark.ts';
import { splitMessage } from './split-message.ts';

export type { MentionNames } from './slack-to-commonmark.ts';

/** One WhatsApp message to send through Chatwoot. */
export interface PreparedPart {
  /** CommonMark for Chatwoot's `content`. */
  content: string;
  /** The text WhatsApp will show, as Chatwoot renders `content` for WhatsApp. */
  whatsapp: string;
  /** UTF-16 code units of `whatsapp`, as Chatwoot's dashboard counts. */
  length: number;
}

/** The messages to send, or why the text cannot be sent. `length` is the whole WhatsApp text's length. */
export type PrepareResult =
  | { ok: true; parts: PreparedPart[]; length: number }
  | { ok: false; code: 'empty' | 'too_long'; length: number; message: string };

/** Limits and name lookups for {@link prepareText}. */
export interface PrepareOptions {
  /** Maximum UTF-16 code units per WhatsApp message (4096 for WhatsApp Cloud, 1600 for Twilio). */
  maxLength: number;
  /** Maximum number of messages one text may become. */
  maxParts: number;
  /** Looks up names for `<@U…>`, `<#C…>` and `<!subteam^S…>` mentions. */
  names?: MentionNames;
}

/** Below this a part cannot hold re-opened markers plus a grapheme, so splitting could not progress. */
const MIN_LENGTH = 16;

const count = (value: number) => value.toLocaleString('en-US');

/** Anything but whitespace and invisible format characters. */
const VISIBLE = /[^\s\p{Default_Ignorable_Code_Point}]/u;

/**
 * Converts Slack text into the CommonMark parts to post to Chatwoot: one part when it fits, otherwise
 * ordered parts cut at natural boundaries. Lengths are counted on the WhatsApp text (UTF-16 code units).
 */
export function prepareText(slackText: string, options: PrepareOptions): PrepareResult {
  const { maxLength, maxParts, names } = options;
  if (!Number.isInteger(maxLength) || maxLength < MIN_LENGTH) {
    throw new RangeError(`maxLength must be an integer of at least ${MIN_LENGTH}, got ${maxLength}`);
  }
  if (!Number.isInteger(maxParts) || maxParts < 1) {
    throw new RangeError(`maxParts must be a positive integer, got ${maxParts}`);
  }
  const nodes = parseSlack(slackText, names ? { names } : {});
  const whatsapp = renderWhatsApp(nodes);
  const length = whatsapp.length;
  if (!VISIBLE.test(whatsapp)) {
    return { ok: false, code: 'empty', length, message: 'The message is empty. Write the text to send.' };
  }
  if (length <= maxLength) {
    return { ok: true, parts: [{ content: renderCommonMark(nodes), whatsapp, length }], length };
  }
  const split = splitMessage(nodes, { maxLength, maxParts });
  if (!split.ok) {
    const parts = maxParts === 1 ? 'one message' : `at most ${count(maxParts)} parts`;
    return {
      ok: false,
      code: 'too_long',
      length,
      message: `The message is ${count(length)} characters; WhatsApp allows ${count(maxLength)} per message and this bridge sends ${parts}. Shorten it or send it as a file.`,
    };
  }
  return {
    ok: true,
    parts: split.parts.map((part) => ({ content: part.content, whatsapp: part.whatsapp, length: part.length })),
    length,
  };
}
