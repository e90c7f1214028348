import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface EmojiEntry {
  /** The emoji as it should be displayed: fully qualified (U+FE0F only where the code point needs it). */
  readonly unicode: string;
  /** Variants indexed by Slack skin tone 2..6 (index 0..4); only uniform-tone variants. */
  readonly skins: readonly (string | undefined)[] | undefined;
}

const SKIN_TONE_HEXCODES = ['1F3FB', '1F3FC', '1F3FD', '1F3FE', '1F3FF'];
const SKIN_TONE_NAME = /^skin-tone-([2-6])$/;
const SHORTCODE = /:([a-z0-9_+-]+):/g;

let table: Map<string, EmojiEntry> | undefined;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(specifier: string): unknown {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve(specifier), 'utf8'));
}

const REDUNDANT_SELECTOR = /(\p{Emoji_Presentation})\uFE0F/gu;

/**
 * The fully-qualified form: emojibase appends U+FE0F (emoji presentation) to every emoji, but after a code point that
 * is already shown as emoji (📦, 👍) it is redundant and only adds to the length WhatsApp counts. Kept where it
 * matters (☀️, ❤️‍🔥).
 */
function qualified(unicode: string): string {
  return unicode.replace(REDUNDANT_SELECTOR, '$1');
}

function fromHexcode(hexcode: string): string {
  return String.fromCodePoint(...hexcode.split('-').map((hex) => Number.parseInt(hex, 16)));
}

/** Skin variants of one emoji, keeping only those where every person has the same tone. */
function uniformSkins(skins: unknown): (string | undefined)[] | undefined {
  if (!Array.isArray(skins)) return undefined;
  const result: (string | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  for (const skin of skins) {
    if (!isRecord(skin) || typeof skin['hexcode'] !== 'string' || typeof skin['unicode'] !== 'string') continue;
    const tones = new Set(skin['hexcode'].split('-').filter((hex) => SKIN_TONE_HEXCODES.includes(hex)));
    const [tone] = tones;
    if (tones.size !== 1 || tone === undefined) continue;
    const index = SKIN_TONE_HEXCODES.indexOf(tone);
    result[index] ??= qualified(skin['unicode']);
  }
  return result.some((skin) => skin !== undefined) ? result : undefined;
}

/** Builds the name → emoji table once; the parsed JSON files are dropped afterwards to keep memory small. */
function loadTable(): Map<string, EmojiEntry> {
  if (table) return table;
  const byHexcode = new Map<string, EmojiEntry>();
  const compact = readJson('emojibase-data/en/compact.json');
  if (Array.isArray(compact)) {
    for (const emoji of compact) {
      if (!isRecord(emoji) || typeof emoji['hexcode'] !== 'string' || typeof emoji['unicode'] !== 'string') continue;
      byHexcode.set(emoji['hexcode'], { unicode: qualified(emoji['unicode']), skins: uniformSkins(emoji['skins']) });
    }
  }
  const shortcodes = readJson('emojibase-data/en/shortcodes/iamcal.json');
  const names = new Map<string, EmojiEntry>();
  if (isRecord(shortcodes)) {
    for (const [hexcode, value] of Object.entries(shortcodes)) {
      const entry = byHexcode.get(hexcode) ?? { unicode: fromHexcode(hexcode), skins: undefined };
      for (const name of Array.isArray(value) ? value : [value]) {
        if (typeof name === 'string' && !names.has(name)) names.set(name, entry);
      }
    }
  }
  table = names;
  return names;
}

/** The emoji for a Slack shortcode name without colons (`thumbsup`, `+1`, `flag-fr`), or undefined if unknown. */
export function emojiForShortcode(name: string): string | undefined {
  return loadTable().get(name)?.unicode;
}

/**
 * Replaces Slack emoji shortcodes (`:smile:`) with emoji. A `:skin-tone-N:` right after an emoji
 * shortcode picks that emoji's skin variant. Unknown names (custom workspace emoji) stay as written.
 */
export function replaceShortcodes(text: string): string {
  if (!text.includes(':')) return text;
  const names = loadTable();
  let result = '';
  let copiedUpTo = 0;
  // The last replaced emoji, while nothing but shortcodes follow it, so a skin tone can modify it.
  let previous: { entry: EmojiEntry; resultStart: number; sourceEnd: number } | undefined;
  SHORTCODE.lastIndex = 0;
  for (let match = SHORTCODE.exec(text); match; match = SHORTCODE.exec(text)) {
    const name = match[1] ?? '';
    const entry = names.get(name);
    if (!entry) {
      // Re-scan from the closing colon: it may open the next shortcode (`:foo:smile:`).
      SHORTCODE.lastIndex = match.index + match[0].length - 1;
      continue;
    }
    result += text.slice(copiedUpTo, match.index);
    const tone = SKIN_TONE_NAME.exec(name);
    if (tone && previous && previous.sourceEnd === match.index) {
      const skin = previous.entry.skins?.[Number(tone[1]) - 2];
      if (skin) {
        result = result.slice(0, previous.resultStart) + skin;
        copiedUpTo = match.index + match[0].length;
        previous = undefined;
        continue;
      }
    }
    previous = { entry, resultStart: result.length, sourceEnd: match.index + match[0].length };
    result += entry.unicode;
    copiedUpTo = previous.sourceEnd;
  }
  return result + text.slice(copiedUpTo);
}
