import { replaceShortcodes } from './emoji.ts';

/** Name lookups for Slack mentions; each returns undefined when the id is unknown. */
export interface MentionNames {
  /** Display name of a user id such as `U123ABC`, without the leading `@`. */
  user?(id: string): string | undefined;
  /** Name of a channel id such as `C123ABC`, without the leading `#`. */
  channel?(id: string): string | undefined;
  /** Handle of a user group id such as `S123ABC`, without the leading `@`. */
  usergroup?(id: string): string | undefined;
}

/** Options for {@link parseSlack} and {@link slackToCommonMark}. */
export interface ParseOptions {
  /** Looks up names for mentions; without it (or when it returns undefined) the token's label or id is shown. */
  names?: MentionNames;
}

/** Spans that wrap other nodes; each has an opening and closing marker in WhatsApp. */
export type SlackContainerType = 'bold' | 'italic' | 'strike' | 'code' | 'codeblock' | 'quote';

/** A span wrapping other nodes. A `quote` is one quoted line; `code`/`codeblock` hold verbatim text. */
export interface SlackContainer {
  readonly type: SlackContainerType;
  readonly children: readonly SlackNode[];
}

/** Plain text, already unescaped and with emoji shortcodes replaced (outside code). */
export interface SlackText {
  readonly type: 'text';
  readonly text: string;
}

/** A Slack link token, shown as readable text such as `label (url)`. */
export interface SlackLink {
  readonly type: 'link';
  readonly text: string;
  readonly url: string;
}

/** A user, channel, group, special mention or date token, shown as readable text such as `@jane`. */
export interface SlackMention {
  readonly type: 'mention';
  readonly text: string;
}

/** A line break (outside or inside a code block). */
export interface SlackBreak {
  readonly type: 'break';
}

/** Nodes that hold visible text directly. */
export type SlackLeaf = SlackText | SlackLink | SlackMention | SlackBreak;

/** One node of the parsed Slack text. */
export type SlackNode = SlackLeaf | SlackContainer;

/** Ids mentioned in a Slack text, in order of first appearance, without duplicates. */
export interface MentionIds {
  users: string[];
  channels: string[];
  usergroups: string[];
}

const NBSP = '\u00A0';
const TOKEN = /<([^<>\n]*)>/g;
const SPECIAL_MENTIONS = new Set(['here', 'channel', 'everyone', 'group']);

/** The WhatsApp markers of a container: `[open, close]`. */
export function containerMarkers(node: SlackContainer): readonly [string, string] {
  switch (node.type) {
    case 'bold':
      return ['*', '*'];
    case 'italic':
      return ['_', '_'];
    case 'strike':
      return ['~', '~'];
    case 'code':
      return ['`', '`'];
    case 'codeblock':
      return ['```', '```'];
    case 'quote':
      return ['> ', ''];
  }
}

/** Undoes Slack's three escapes; any other `&…;` is literal text typed by the user. */
function unescapeSlack(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(amp|lt|gt);/g, (_, name: string) => (name === 'amp' ? '&' : name === 'lt' ? '<' : '>'));
}

/**
 * Line-level clean-up shared by both outputs: CommonMark strips trailing spaces (or turns two of them into
 * a hard break) and strips or code-indents leading ones, so trailing ones go and the first leading one
 * becomes a no-break space, which keeps the indentation visible as typed.
 */
function normalize(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\0/g, '\uFFFD')
    .replace(/[ \t]+$/gm, '')
    .replace(/^ /gm, NBSP)
    .replace(/^\t/gm, `${NBSP}\t`)
    .replace(/^\n+|\n+$/g, '');
}

function isSpace(char: string | undefined): boolean {
  return char !== undefined && /\s/u.test(char);
}

function isPunctuation(char: string | undefined): boolean {
  return char !== undefined && /[!-/:-@[-`{-~\p{P}]/u.test(char);
}

/** The last code point of `text` (not a lone low surrogate). */
function lastChar(text: string): string | undefined {
  if (text.length === 0) return undefined;
  const code = text.charCodeAt(text.length - 1);
  return code >= 0xdc00 && code <= 0xdfff && text.length > 1 ? text.slice(-2) : text.slice(-1);
}

function firstChar(text: string): string | undefined {
  const code = text.codePointAt(0);
  return code === undefined ? undefined : String.fromCodePoint(code);
}

function formatDate(seconds: string): string | undefined {
  if (!/^\d+(\.\d+)?$/.test(seconds)) return undefined;
  const value = Number(seconds);
  if (!Number.isFinite(value)) return undefined;
  const date = new Date(value * 1000);
  if (Number.isNaN(date.getTime())) return undefined;
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function withoutScheme(url: string): string {
  return url.replace(/^[a-z][a-z0-9+.-]*:(\/\/)?/i, '').replace(/\/$/, '');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Readable text for a link: the label and the url, unless the label is just the url again. */
function linkText(url: string, label: string | undefined): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'mailto') {
    const address = safeDecode(url.slice('mailto:'.length).split('?')[0] ?? '');
    if (label === undefined || label.toLowerCase() === address.toLowerCase()) return label ?? address;
    return `${label} (${address})`;
  }
  if (scheme === 'tel') {
    const number = url.slice('tel:'.length);
    const digits = (text: string) => text.replace(/[^\d+]/g, '');
    if (label === undefined || digits(label) === digits(number)) return label ?? number;
    return `${label} (${number})`;
  }
  // Slack labels auto-linked text with the url itself, often without the scheme: showing both would repeat it.
  if (label === undefined || withoutScheme(label).toLowerCase() === withoutScheme(url).toLowerCase()) return url;
  return `${label} (${url})`;
}

function prefixed(prefix: string, name: string): string {
  return name.startsWith(prefix) ? name : `${prefix}${name}`;
}

function lookup(find: ((id: string) => string | undefined) | undefined, id: string): string | undefined {
  const name = find?.(id)?.trim();
  return name ? name : undefined;
}

/** Turns the inside of a `<…>` token into a link or mention node. */
function resolveToken(inner: string, names: MentionNames | undefined): SlackLink | SlackMention {
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const rawLabel = bar < 0 ? '' : unescapeSlack(inner.slice(bar + 1)).trim();
  const label = rawLabel === '' ? undefined : rawLabel;
  if (target.startsWith('@')) {
    const id = target.slice(1);
    return { type: 'mention', text: prefixed('@', lookup(names?.user, id) ?? label ?? id) };
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    return { type: 'mention', text: prefixed('#', lookup(names?.channel, id) ?? label ?? id) };
  }
  if (target.startsWith('!')) {
    const [command = '', argument = ''] = target.slice(1).split('^');
    if (SPECIAL_MENTIONS.has(command)) {
      return { type: 'mention', text: `@${command === 'group' ? 'channel' : command}` };
    }
    if (command === 'subteam') {
      return { type: 'mention', text: prefixed('@', lookup(names?.usergroup, argument) ?? label ?? argument) };
    }
    if (command === 'date') return { type: 'mention', text: label ?? formatDate(argument) ?? argument };
    return { type: 'mention', text: label ?? prefixed('@', command) };
  }
  const url = unescapeSlack(target);
  return { type: 'link', text: linkText(url, label), url };
}

/** Adds a token's readable text; a token that shows nothing (a date without time or fallback) adds nothing. */
function pushToken(out: SlackNode[], inner: string, names: MentionNames | undefined): void {
  const node = resolveToken(inner, names);
  if (node.text !== '') out.push(node);
}

/** A span, or its bare markers as text when nothing is left inside: spans are never empty. */
function container(type: SlackContainerType, children: SlackNode[]): SlackNode {
  const node: SlackContainer = { type, children };
  if (children.length > 0) return node;
  const [open, close] = containerMarkers(node);
  return { type: 'text', text: open + close };
}

/** Verbatim text (inside code): tokens become readable text, escapes are undone, nothing else changes. */
function parseVerbatim(raw: string, names: MentionNames | undefined, out: SlackNode[]): void {
  let last = 0;
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(raw); match; match = TOKEN.exec(raw)) {
    if (match.index > last) out.push({ type: 'text', text: unescapeSlack(raw.slice(last, match.index)) });
    pushToken(out, match[1] ?? '', names);
    last = match.index + match[0].length;
  }
  if (last < raw.length) out.push({ type: 'text', text: unescapeSlack(raw.slice(last)) });
}

type Atom =
  | { kind: 'text'; raw: string }
  | { kind: 'token'; inner: string }
  | { kind: 'code'; inner: string }
  | { kind: 'marker'; char: string; match: number };

/** Splits a line fragment into text, `<tokens>`, `code` spans and candidate `*`/`_`/`~` markers. */
function atomize(raw: string, before: string | undefined, after: string | undefined) {
  const atoms: Atom[] = [];
  const markers: { atom: number; char: string; canOpen: boolean; canClose: boolean }[] = [];
  let text = '';
  const flush = () => {
    if (text) atoms.push({ kind: 'text', raw: text });
    text = '';
  };
  let i = 0;
  while (i < raw.length) {
    const char = raw.charAt(i);
    if (char === '<' || char === '`') {
      const end = raw.indexOf(char === '<' ? '>' : '`', i + 1);
      if (end > i + 1) {
        flush();
        const inner = raw.slice(i + 1, end);
        atoms.push(char === '<' ? { kind: 'token', inner } : { kind: 'code', inner });
        i = end + 1;
        continue;
      }
    } else if (char === '*' || char === '_' || char === '~') {
      const prev = i > 0 ? raw.charAt(i - 1) : before;
      const next = i + 1 < raw.length ? raw.charAt(i + 1) : after;
      // Slack's word-boundary rule: open after start/space/punctuation, close before end/space/punctuation.
      const canOpen =
        (prev === undefined || isSpace(prev) || isPunctuation(prev)) && next !== undefined && !isSpace(next);
      const canClose =
        prev !== undefined && !isSpace(prev) && (next === undefined || isSpace(next) || isPunctuation(next));
      if (canOpen || canClose) {
        flush();
        markers.push({ atom: atoms.length, char, canOpen, canClose });
        atoms.push({ kind: 'marker', char, match: -1 });
        i += 1;
        continue;
      }
    }
    text += char;
    i += 1;
  }
  flush();
  return { atoms, markers };
}

/** Pairs markers like Slack does: nearest opener of the same kind, no empty spans, no bold inside bold. */
function matchMarkers(atoms: Atom[], markers: ReturnType<typeof atomize>['markers']): void {
  const stack: { atom: number; char: string }[] = [];
  const lastPairStart = new Map<string, number>();
  for (const marker of markers) {
    if (marker.canClose) {
      let k = stack.length - 1;
      while (k >= 0 && stack[k]?.char !== marker.char) k -= 1;
      const opener = stack[k];
      if (opener && marker.atom > opener.atom + 1 && (lastPairStart.get(marker.char) ?? -1) < opener.atom) {
        const open = atoms[opener.atom];
        const close = atoms[marker.atom];
        if (open?.kind === 'marker' && close?.kind === 'marker') {
          open.match = marker.atom;
          close.match = opener.atom;
        }
        stack.length = k;
        lastPairStart.set(marker.char, opener.atom);
        continue;
      }
    }
    if (marker.canOpen) stack.push({ atom: marker.atom, char: marker.char });
  }
}

const SPAN_TYPES: Record<string, SlackContainerType> = { '*': 'bold', _: 'italic', '~': 'strike' };

function buildInline(atoms: Atom[], from: number, to: number, names: MentionNames | undefined): SlackNode[] {
  const nodes: SlackNode[] = [];
  let text = '';
  const flush = () => {
    if (text) nodes.push({ type: 'text', text: replaceShortcodes(unescapeSlack(text)) });
    text = '';
  };
  for (let i = from; i < to; i += 1) {
    const atom = atoms[i];
    if (!atom) continue;
    if (atom.kind === 'text') {
      text += atom.raw;
    } else if (atom.kind === 'marker') {
      if (atom.match > i) {
        flush();
        nodes.push(container(SPAN_TYPES[atom.char] ?? 'bold', buildInline(atoms, i + 1, atom.match, names)));
        i = atom.match;
      } else {
        text += atom.char;
      }
    } else if (atom.kind === 'token') {
      flush();
      pushToken(nodes, atom.inner, names);
    } else {
      flush();
      const children: SlackNode[] = [];
      parseVerbatim(atom.inner, names, children);
      nodes.push(container('code', children));
    }
  }
  flush();
  return nodes;
}

function parseInline(
  raw: string,
  before: string | undefined,
  after: string | undefined,
  names: MentionNames | undefined,
): SlackNode[] {
  const { atoms, markers } = atomize(raw, before, after);
  matchMarkers(atoms, markers);
  return buildInline(atoms, 0, atoms.length, names);
}

type LineItem = { kind: 'text'; raw: string } | { kind: 'codeblock'; raw: string };

/** Cuts the text into logical lines; a ``` code block may span several source lines inside one logical line. */
function logicalLines(text: string): LineItem[][] {
  const lines: LineItem[][] = [[]];
  const addText = (raw: string) => {
    const parts = raw.split('\n');
    parts.forEach((part, index) => {
      if (index > 0) lines.push([]);
      if (part) lines[lines.length - 1]?.push({ kind: 'text', raw: part });
    });
  };
  let last = 0;
  let open = text.indexOf('```');
  while (open >= 0) {
    const close = text.indexOf('```', open + 3);
    if (close < 0) break;
    if (close === open + 3) {
      open = text.indexOf('```', open + 1);
      continue;
    }
    addText(text.slice(last, open));
    lines[lines.length - 1]?.push({ kind: 'codeblock', raw: text.slice(open + 3, close) });
    last = close + 3;
    open = text.indexOf('```', last);
  }
  addText(text.slice(last));
  return lines;
}

function parseLine(items: LineItem[], quoted: boolean, names: MentionNames | undefined): SlackNode[] {
  const nodes: SlackNode[] = [];
  items.forEach((item, index) => {
    if (item.kind === 'codeblock') {
      const children: SlackNode[] = [];
      item.raw.split('\n').forEach((line, lineIndex) => {
        if (lineIndex > 0) children.push({ type: 'break' });
        parseVerbatim(line, names, children);
      });
      nodes.push(container('codeblock', children));
      return;
    }
    // A neighbouring code block's backticks count as punctuation for the word-boundary rule.
    const before = index > 0 ? '`' : undefined;
    const after = index < items.length - 1 ? '`' : undefined;
    nodes.push(...parseInline(item.raw, before, after, names));
  });
  if (!quoted) return nodes;
  // An empty quote line stays a plain `>`: containers are never empty, which keeps splitting simple.
  return nodes.length > 0 ? [{ type: 'quote', children: nodes }] : [{ type: 'text', text: '>' }];
}

/**
 * Parses Slack message text (as received from the Events API or a slash command) into a small span tree.
 * Slack's escapes are undone, tokens become readable text, emoji shortcodes become emoji (never in code).
 */
export function parseSlack(text: string, options: ParseOptions = {}): SlackNode[] {
  const names = options.names;
  const lines: SlackNode[][] = [];
  let quoteRest = false;
  for (const line of logicalLines(normalize(text))) {
    let items = line;
    let quoted = quoteRest && items.length > 0;
    const first = items[0];
    // `>` quotes one line; `>>>` quotes the rest of the message.
    const quote = first?.kind === 'text' ? /^&gt;(&gt;&gt;)? ?/.exec(first.raw) : null;
    if (first && quote) {
      const rest = first.raw.slice(quote[0].length);
      items = rest ? [{ kind: 'text', raw: rest }, ...items.slice(1)] : items.slice(1);
      if (quote[1] !== undefined) {
        quoteRest = true;
        // A bare `>>>` line only starts the quote; it shows nothing itself.
        if (items.length === 0) continue;
      }
      quoted = true;
    }
    lines.push(parseLine(items, quoted, names));
  }
  const nodes: SlackNode[] = [];
  lines.forEach((line, index) => {
    if (index > 0) nodes.push({ type: 'break' });
    nodes.push(...line);
  });
  return nodes;
}

/** The mentioned user, channel and user-group ids, so the caller can look their names up before converting. */
export function mentionIds(text: string): MentionIds {
  const users = new Set<string>();
  const channels = new Set<string>();
  const usergroups = new Set<string>();
  for (const match of text.matchAll(TOKEN)) {
    const target = (match[1] ?? '').split('|')[0] ?? '';
    if (target.length > 1 && target.startsWith('@')) users.add(target.slice(1));
    else if (target.length > 1 && target.startsWith('#')) channels.add(target.slice(1));
    else if (target.startsWith('!subteam^')) {
      const id = target.slice('!subteam^'.length).split('^')[0];
      if (id) usergroups.add(id);
    }
  }
  return { users: [...users], channels: [...channels], usergroups: [...usergroups] };
}

/** The text WhatsApp receives once Chatwoot has rendered {@link renderCommonMark}'s output. */
export function renderWhatsApp(nodes: readonly SlackNode[]): string {
  let out = '';
  const walk = (list: readonly SlackNode[]) => {
    for (const node of list) {
      if (node.type === 'break') out += '\n';
      else if ('text' in node) out += node.text;
      else {
        const [open, close] = containerMarkers(node);
        out += open;
        walk(node.children);
        out += close;
      }
    }
  };
  walk(nodes);
  return out;
}

/** Backslash-escapes everything CommonMark could read as inline syntax; line starts are handled later. */
function escapeInline(text: string): string {
  return text.replace(/[\\`*_[\]<]|&(?=#?[a-z0-9]+;)/gi, '\\$&');
}

interface Piece {
  syntax: string;
  literal: string;
  useLiteral: boolean;
  kind: 'text' | 'delimiter' | 'code';
  pair: Piece | undefined;
  opens: boolean;
}

function textPiece(text: string): Piece {
  return { syntax: text, literal: text, useLiteral: false, kind: 'text', pair: undefined, opens: false };
}

function collectPieces(nodes: readonly SlackNode[], pieces: Piece[]): void {
  for (const node of nodes) {
    if (node.type === 'break') pieces.push(textPiece('\n'));
    else if ('text' in node) {
      if (node.text) pieces.push(textPiece(escapeInline(node.text)));
    } else if (node.type === 'bold' || node.type === 'italic') {
      const syntax = node.type === 'bold' ? '**' : '_';
      const literal = node.type === 'bold' ? '\\*' : '\\_';
      const open: Piece = { syntax, literal, useLiteral: false, kind: 'delimiter', pair: undefined, opens: true };
      const close: Piece = { syntax, literal, useLiteral: false, kind: 'delimiter', pair: open, opens: false };
      open.pair = close;
      pieces.push(open);
      collectPieces(node.children, pieces);
      pieces.push(close);
    } else if (node.type === 'strike') {
      // `~` is not syntax for Chatwoot (no strikethrough extension), so it reaches WhatsApp as typed.
      pieces.push(textPiece('~'));
      collectPieces(node.children, pieces);
      pieces.push(textPiece('~'));
    } else if (node.type === 'code') {
      const content = renderWhatsApp(node.children);
      const literal = `\\\`${escapeInline(content)}\\\``;
      // CommonMark trims or reinterprets code spans with edge spaces or backticks; keep those literal.
      const safe = content !== '' && !/^\s|\s$|[`\n]/.test(content);
      pieces.push({
        syntax: safe ? `\`${content}\`` : literal,
        literal,
        useLiteral: !safe,
        kind: 'code',
        pair: undefined,
        opens: false,
      });
    } else if (node.type === 'codeblock') {
      // Chatwoot renders fenced code blocks without their fences (newer) or drops them (older), so the
      // fences and content go out as escaped literal text: WhatsApp then receives ``` … ``` verbatim.
      pieces.push(textPiece('\\`\\`\\`'));
      collectPieces(node.children, pieces);
      pieces.push(textPiece('\\`\\`\\`'));
    } else {
      // A quote is literal `> ` text (escaped at the line start later): a CommonMark blockquote would get
      // the `> ` only on its first line from Chatwoot's renderer, and would swallow lazy continuation lines.
      pieces.push(textPiece('> '));
      collectPieces(node.children, pieces);
    }
  }
}

function current(piece: Piece | undefined): string {
  if (!piece) return '\n';
  return piece.useLiteral ? piece.literal : piece.syntax;
}

const CM_SPACE = /[\t\n\f\r\p{Zs}]/u;
const CM_PUNCTUATION_OLD = /[!-/:-@[-`{-~\p{P}]/u;
const CM_PUNCTUATION_NEW = /[!-/:-@[-`{-~\p{P}\p{S}]/u;

/** Whether a delimiter run between `prev` and `next` opens/closes emphasis, per CommonMark's flanking rules. */
function delimiterWorks(char: string, opens: boolean, prev: string, next: string, punctuation: RegExp): boolean {
  const prevSpace = CM_SPACE.test(prev);
  const nextSpace = CM_SPACE.test(next);
  const prevPunct = punctuation.test(prev);
  const nextPunct = punctuation.test(next);
  const left = !nextSpace && (!nextPunct || prevSpace || prevPunct);
  const right = !prevSpace && (!prevPunct || nextSpace || nextPunct);
  if (char === '*') return opens ? left : right;
  return opens ? left && (!right || prevPunct) : right && (!left || nextPunct);
}

function pieceWorks(pieces: Piece[], index: number): boolean {
  const piece = pieces[index];
  if (!piece) return true;
  const before = pieces[index - 1];
  const after = pieces[index + 1];
  const activeSame = (other: Piece | undefined) =>
    other !== undefined &&
    !other.useLiteral &&
    other.kind === piece.kind &&
    (piece.kind === 'code' || other.syntax === piece.syntax);
  // Adjacent runs would merge (`****`, ``` `` ```) and change their meaning.
  if (activeSame(before) || activeSame(after)) return false;
  if (piece.kind !== 'delimiter') return true;
  const prev = lastChar(current(before)) ?? '\n';
  const next = firstChar(current(after)) ?? '\n';
  const char = piece.syntax.charAt(0);
  // Valid under both the older (punctuation only) and newer (punctuation or symbol) CommonMark rules.
  return (
    delimiterWorks(char, piece.opens, prev, next, CM_PUNCTUATION_OLD) &&
    delimiterWorks(char, piece.opens, prev, next, CM_PUNCTUATION_NEW)
  );
}

/**
 * Renders the tree as CommonMark for Chatwoot's `content`, such that Chatwoot's WhatsApp renderer produces
 * exactly {@link renderWhatsApp}'s text. Markup that CommonMark would not read as intended (flanking rules,
 * adjacent runs) falls back to escaped literal markers, which reach WhatsApp as the same characters.
 */
export function renderCommonMark(nodes: readonly SlackNode[]): string {
  const pieces: Piece[] = [];
  collectPieces(nodes, pieces);
  let changed = true;
  while (changed) {
    changed = false;
    pieces.forEach((piece, index) => {
      if (piece.kind === 'text' || piece.useLiteral || pieceWorks(pieces, index)) return;
      piece.useLiteral = true;
      if (piece.pair) piece.pair.useLiteral = true;
      changed = true;
    });
  }
  return (
    pieces
      .map(current)
      .join('')
      // Block syntax only exists at a line start (indentation never reaches here, see normalize): headings,
      // quotes, bullets, rules and setext underlines, fences, ordered-list markers. `#tag` or `+1` need nothing.
      .replace(/^(?:#{1,6}(?=[ \t]|$)|>|[+-](?=[ \t]|$)|-(?=-)|=+[ \t]*$|~~~)/gm, '\\$&')
      .replace(/^(\d{1,9})([.)])(?=[ \t]|$)/gm, '$1\\$2')
  );
}

/** Converts Slack text to Chatwoot `content` (CommonMark) and the WhatsApp text it will become. */
export function slackToCommonMark(text: string, options: ParseOptions = {}): { content: string; whatsapp: string } {
  const nodes = parseSlack(text, options);
  return { content: renderCommonMark(nodes), whatsapp: renderWhatsApp(nodes) };
}
