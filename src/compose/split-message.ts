import {
  containerMarkers,
  renderCommonMark,
  renderWhatsApp,
  type SlackContainer,
  type SlackLeaf,
  type SlackNode,
} from './slack-to-commonmark.ts';

/** One message of a split text. */
export interface SplitPart {
  /** The part's own span tree (spans cut by the split are closed and re-opened). */
  nodes: SlackNode[];
  /** CommonMark for Chatwoot's `content`. */
  content: string;
  /** The text WhatsApp receives. */
  whatsapp: string;
  /** UTF-16 code units of `whatsapp`. */
  length: number;
  /** Markers added at the start because the part begins inside spans (e.g. `*` or "```"). */
  reopened: string;
  /** Markers added at the end because the part ends inside spans. */
  closed: string;
  /** The text removed between this part and the next: blank lines, a line break, spaces, or '' (last part, or a cut inside a word). */
  separator: string;
}

/** The parts, or `ok: false` when more than `maxParts` would be needed. */
export type SplitResult = { ok: true; parts: SplitPart[] } | { ok: false };

/** Limits for {@link splitMessage}. */
export interface SplitOptions {
  /** Maximum UTF-16 code units of each part's WhatsApp text. */
  maxLength: number;
  /** Maximum number of parts. */
  maxParts: number;
}

/** Where a cut may go, from best to worst. */
const PARAGRAPH = 0;
const LINE = 1;
const SENTENCE = 2;
const SPACE = 3;
const HARD = 4;

/** A part smaller than this share of the limit is accepted only when no worse kind of cut fills more. */
const MIN_FILL = 0.5;

interface Leaf {
  node: SlackLeaf;
  text: string;
  path: readonly SlackContainer[];
  /** Offset of the leaf's text in the full WhatsApp text. */
  start: number;
}

/** A cut: the part before ends at (endLeaf, endOffset) / `waStart`; the next starts at (startLeaf, startOffset) / `waEnd`. */
interface Cut {
  kind: number;
  endLeaf: number;
  endOffset: number;
  startLeaf: number;
  startOffset: number;
  waStart: number;
  waEnd: number;
  path: readonly SlackContainer[];
  openLength: number;
  closeLength: number;
}

interface Flat {
  leaves: Leaf[];
  whatsapp: string;
  ranges: Map<SlackContainer, { start: number; end: number }>;
}

function flatten(nodes: readonly SlackNode[]): Flat {
  const leaves: Leaf[] = [];
  const ranges = new Map<SlackContainer, { start: number; end: number }>();
  let whatsapp = '';
  const walk = (list: readonly SlackNode[], path: readonly SlackContainer[]) => {
    for (const node of list) {
      if (node.type === 'break' || 'text' in node) {
        const text = node.type === 'break' ? '\n' : node.text;
        leaves.push({ node, text, path, start: whatsapp.length });
        whatsapp += text;
        continue;
      }
      const [open, close] = containerMarkers(node);
      whatsapp += open;
      const start = whatsapp.length;
      walk(node.children, [...path, node]);
      ranges.set(node, { start, end: whatsapp.length });
      whatsapp += close;
    }
  };
  walk(nodes, []);
  return { leaves, whatsapp, ranges };
}

function markerLengths(path: readonly SlackContainer[]): { open: number; close: number } {
  let open = 0;
  let close = 0;
  for (const container of path) {
    const [start, end] = containerMarkers(container);
    open += start.length;
    close += end.length;
  }
  return { open, close };
}

/** Cutting here must leave visible content on both sides inside every span it cuts through. */
function insideContent(flat: Flat, path: readonly SlackContainer[], waStart: number, waEnd: number): boolean {
  return path.every((container) => {
    const range = flat.ranges.get(container);
    return range !== undefined && range.start < waStart && waEnd < range.end;
  });
}

/** Starting a part with these would make WhatsApp show a list item or quote that was not there. */
const LINE_SYNTAX = /^(?:[-*•>]|\d{1,9}[.)])[ \t\u00A0]/;
const SENTENCE_END = /[.!?…]["'”’»)\]]*$/;

/** All cuts except cuts inside words, in text order. */
function findCuts(flat: Flat): Cut[] {
  const cuts: Cut[] = [];
  const { leaves, whatsapp } = flat;
  const add = (cut: Omit<Cut, 'openLength' | 'closeLength'>) => {
    if (!insideContent(flat, cut.path, cut.waStart, cut.waEnd)) return;
    const { open, close } = markerLengths(cut.path);
    cuts.push({ ...cut, openLength: open, closeLength: close });
  };
  for (let index = 0; index < leaves.length; index += 1) {
    const leaf = leaves[index];
    if (!leaf) continue;
    if (leaf.node.type === 'break') {
      let last = index;
      while (leaves[last + 1]?.node.type === 'break' && leaves[last + 1]?.path === leaf.path) last += 1;
      add({
        kind: last > index ? PARAGRAPH : LINE,
        endLeaf: index,
        endOffset: 0,
        startLeaf: last + 1,
        startOffset: 0,
        waStart: leaf.start,
        waEnd: leaf.start + (last - index + 1),
        path: leaf.path,
      });
      index = last;
      continue;
    }
    if (leaf.node.type !== 'text') continue;
    for (const match of leaf.text.matchAll(/[ \t]+/g)) {
      const waStart = leaf.start + match.index;
      const waEnd = waStart + match[0].length;
      if (LINE_SYNTAX.test(whatsapp.slice(waEnd, waEnd + 12))) continue;
      const sentence = SENTENCE_END.test(whatsapp.slice(Math.max(0, waStart - 8), waStart));
      add({
        kind: sentence ? SENTENCE : SPACE,
        endLeaf: index,
        endOffset: match.index,
        startLeaf: index,
        startOffset: match.index + match[0].length,
        waStart,
        waEnd,
        path: leaf.path,
      });
    }
  }
  return cuts;
}

let graphemes: Intl.Segmenter | undefined;

/** The last grapheme boundary in `text` at or before `max` and after `min`, not next to a space or tab. */
function lastGraphemeBoundary(text: string, min: number, max: number): number | undefined {
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  // Two extra code units give the segmenter the whole code point after each boundary it reports.
  const scope = text.slice(0, Math.min(text.length, max + 2));
  let best: number | undefined;
  for (const { index } of graphemes.segment(scope)) {
    if (index > max) break;
    if (index <= min || index >= text.length) continue;
    if (/[ \t]/.test(text.charAt(index - 1)) || /[ \t]/.test(text.charAt(index))) continue;
    best = index;
  }
  return best;
}

interface Start {
  leaf: number;
  offset: number;
  waEnd: number;
  openLength: number;
}

/** The furthest cut inside a word (between graphemes) that keeps the part within `limit`. */
function hardCut(flat: Flat, from: Start, limit: number): Cut | undefined {
  let best: Cut | undefined;
  for (let index = from.leaf; index < flat.leaves.length; index += 1) {
    const leaf = flat.leaves[index];
    if (!leaf) continue;
    const first = index === from.leaf ? from.offset : 0;
    if (from.openLength + leaf.start + first - from.waEnd >= limit) break;
    if (leaf.node.type === 'break') continue;
    const { open, close } = markerLengths(leaf.path);
    const max = from.waEnd + limit - from.openLength - close - leaf.start;
    const offset = lastGraphemeBoundary(leaf.text, first, Math.min(max, leaf.text.length - 1));
    if (offset === undefined) continue;
    const at = leaf.start + offset;
    best = {
      kind: HARD,
      endLeaf: index,
      endOffset: offset,
      startLeaf: index,
      startOffset: offset,
      waStart: at,
      waEnd: at,
      path: leaf.path,
      openLength: open,
      closeLength: close,
    };
  }
  return best;
}

type Mode = 'natural' | 'tight' | 'hard';

/** WhatsApp length of a span including its markers. */
function spanLength(flat: Flat, container: SlackContainer): number {
  const range = flat.ranges.get(container);
  const [open, close] = containerMarkers(container);
  return range ? range.end - range.start + open.length + close.length : 0;
}

function partLength(from: Start, cut: Cut): number {
  return from.openLength + cut.waStart - from.waEnd + cut.closeLength;
}

/** Picks where the part starting at `from` ends. */
function chooseCut(flat: Flat, cuts: Cut[], first: number, from: Start, limit: number, mode: Mode): Cut | undefined {
  const fitting: Cut[] = [];
  for (let index = first; index < cuts.length; index += 1) {
    const cut = cuts[index];
    if (!cut || from.openLength + cut.waStart - from.waEnd > limit) break;
    if (cut.waStart > from.waEnd && partLength(from, cut) <= limit) fitting.push(cut);
  }
  const furthest = fitting.at(-1);
  if (mode === 'hard') {
    const hard = hardCut(flat, from, limit);
    if (!furthest) return hard;
    return hard && hard.waStart > furthest.waStart ? hard : furthest;
  }
  if (mode === 'tight') return furthest ?? hardCut(flat, from, limit);
  // A cut inside a span is only considered when that span cannot fit in one part anyway.
  const eligible = fitting.filter((cut) => cut.path.every((container) => spanLength(flat, container) > limit));
  for (const kind of [PARAGRAPH, LINE, SENTENCE, SPACE]) {
    const best = eligible.findLast((cut) => cut.kind === kind);
    if (best && best.waStart - from.waEnd >= limit * MIN_FILL) return best;
  }
  return eligible.at(-1) ?? furthest ?? hardCut(flat, from, limit);
}

/** The cuts for one strategy, or undefined when more than `maxParts` parts would be needed. */
function plan(flat: Flat, cuts: Cut[], options: SplitOptions, mode: Mode): Cut[] | undefined {
  const chosen: Cut[] = [];
  let from: Start = { leaf: 0, offset: 0, waEnd: 0, openLength: 0 };
  let first = 0;
  const total = flat.whatsapp.length;
  while (from.openLength + total - from.waEnd > options.maxLength) {
    if (chosen.length + 1 >= options.maxParts) return undefined;
    const cut = chooseCut(flat, cuts, first, from, options.maxLength, mode);
    if (!cut) return undefined;
    chosen.push(cut);
    from = { leaf: cut.startLeaf, offset: cut.startOffset, waEnd: cut.waEnd, openLength: cut.openLength };
    while ((cuts[first]?.waStart ?? Number.POSITIVE_INFINITY) < from.waEnd) first += 1;
  }
  return chosen;
}

function sliceLeaf(leaf: Leaf, from: number, to: number): SlackLeaf {
  if (leaf.node.type === 'break' || (from === 0 && to === leaf.text.length)) return leaf.node;
  return { ...leaf.node, text: leaf.text.slice(from, to) };
}

/** Rebuilds a span tree from leaves, re-opening the spans each leaf sits in. */
function rebuild(leaves: { node: SlackLeaf; path: readonly SlackContainer[] }[]): SlackNode[] {
  const root: SlackNode[] = [];
  const stack: { original: SlackContainer; children: SlackNode[] }[] = [];
  for (const { node, path } of leaves) {
    let depth = 0;
    while (depth < stack.length && depth < path.length && stack[depth]?.original === path[depth]) depth += 1;
    stack.length = depth;
    for (let level = depth; level < path.length; level += 1) {
      const original = path[level];
      if (!original) continue;
      const children: SlackNode[] = [];
      (stack.at(-1)?.children ?? root).push({ type: original.type, children });
      stack.push({ original, children });
    }
    (stack.at(-1)?.children ?? root).push(node);
  }
  return root;
}

function markers(path: readonly SlackContainer[], side: 0 | 1): string {
  const list = path.map((container) => containerMarkers(container)[side]);
  return side === 0 ? list.join('') : list.reverse().join('');
}

function buildPart(flat: Flat, from: Cut | undefined, to: Cut | undefined): SplitPart {
  const startLeaf = from?.startLeaf ?? 0;
  const startOffset = from?.startOffset ?? 0;
  const endLeaf = to?.endLeaf ?? flat.leaves.length - 1;
  const endOffset = to?.endOffset ?? flat.leaves[endLeaf]?.text.length ?? 0;
  const leaves: { node: SlackLeaf; path: readonly SlackContainer[] }[] = [];
  for (let index = startLeaf; index <= endLeaf; index += 1) {
    const leaf = flat.leaves[index];
    if (!leaf) continue;
    const begin = index === startLeaf ? startOffset : 0;
    const end = index === endLeaf ? endOffset : leaf.text.length;
    if (end > begin) leaves.push({ node: sliceLeaf(leaf, begin, end), path: leaf.path });
  }
  const nodes = rebuild(leaves);
  const whatsapp = renderWhatsApp(nodes);
  return {
    nodes,
    content: renderCommonMark(nodes),
    whatsapp,
    length: whatsapp.length,
    reopened: from ? markers(from.path, 0) : '',
    closed: to ? markers(to.path, 1) : '',
    separator: to ? flat.whatsapp.slice(to.waStart, to.waEnd) : '',
  };
}

/**
 * Splits a parsed message into ordered parts whose WhatsApp text fits `maxLength` UTF-16 code units.
 * Cuts prefer blank lines, then line breaks, sentence ends and spaces, and stay outside spans when they
 * can; a span longer than a part (a long code block, say) is closed at the cut and re-opened in the next
 * part. Words are only cut (between graphemes) when nothing else fits. Nothing is added but those
 * markers, and only the separator at each cut is removed.
 */
export function splitMessage(nodes: readonly SlackNode[], options: SplitOptions): SplitResult {
  const flat = flatten(nodes);
  const cuts = findCuts(flat);
  for (const mode of ['natural', 'tight', 'hard'] as const) {
    const chosen = plan(flat, cuts, options, mode);
    if (!chosen) continue;
    const parts = [...chosen, undefined].map((to, index) => buildPart(flat, chosen[index - 1], to));
    const oversized = parts.find((part) => part.length > options.maxLength);
    if (oversized) throw new Error(`Split produced a part of ${oversized.length} > ${options.maxLength} characters`);
    return { ok: true, parts };
  }
  return { ok: false };
}
