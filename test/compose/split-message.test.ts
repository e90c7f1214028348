import { describe, expect, it } from 'vitest';
import { parseSlack, renderWhatsApp } from '../../src/compose/slack-to-commonmark.ts';
import { type SplitPart, splitMessage } from '../../src/compose/split-message.ts';

function split(slack: string, maxLength: number, maxParts = 100): SplitPart[] {
  const result = splitMessage(parseSlack(slack), { maxLength, maxParts });
  if (!result.ok) throw new Error('expected the text to split');
  return result.parts;
}

/** The part's text without the span markers the split added. */
function original(part: SplitPart): string {
  return part.whatsapp.slice(part.reopened.length, part.whatsapp.length - part.closed.length);
}

/** Everything a reader would notice: limits broken, text lost or duplicated, characters cut in half. */
function splitProblems(slack: string, parts: SplitPart[], maxLength: number): string[] {
  const problems: string[] = [];
  const full = renderWhatsApp(parseSlack(slack));
  const graphemes = new Set(
    [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(full)].map((s) => s.index),
  );
  let position = 0;
  parts.forEach((part, index) => {
    const at = `part ${index + 1} of ${JSON.stringify(slack)} at ${maxLength}`;
    if (part.length !== part.whatsapp.length) problems.push(`${at}: length ${part.length} is not the text length`);
    if (part.length > maxLength) problems.push(`${at}: ${part.length} characters`);
    if (!part.whatsapp.startsWith(part.reopened) || !part.whatsapp.endsWith(part.closed)) {
      problems.push(`${at}: added markers missing`);
    }
    if (/^\s|\s$/.test(part.whatsapp.replaceAll('\u00A0', 'x'))) problems.push(`${at}: starts or ends with whitespace`);
    if (full.slice(position, position + original(part).length) !== original(part)) problems.push(`${at}: text differs`);
    position += original(part).length;
    if (index < parts.length - 1 && !graphemes.has(position)) problems.push(`${at}: cut inside a character`);
    position += part.separator.length;
  });
  if (parts.map((part) => original(part) + part.separator).join('') !== full) problems.push('joined parts differ');
  if (parts.at(-1)?.separator !== '') problems.push('last part has a separator');
  return problems;
}

function expectFaithfulSplit(slack: string, parts: SplitPart[], maxLength: number) {
  expect(splitProblems(slack, parts, maxLength)).toEqual([]);
}

describe('splitMessage', () => {
  it('keeps a text that fits in a single part', () => {
    const parts = split('short *text*', 4096);
    expect(parts.map((part) => part.whatsapp)).toEqual(['short *text*']);
    expect(parts[0]?.content).toBe('short **text**');
  });

  it('prefers a blank line over later line breaks and spaces', () => {
    const slack = `${'a'.repeat(50)}\n\n${'b '.repeat(20)}\n${'c '.repeat(20)}`;
    const parts = split(slack, 100);
    expect(parts.map((part) => part.separator)).toEqual(['\n\n', '']);
    expect(parts[0]?.whatsapp).toBe('a'.repeat(50));
    expectFaithfulSplit(slack, parts, 100);
  });

  it('prefers a line break over a later sentence end or space', () => {
    const slack = `${'word '.repeat(12)}end\n${'more words here. '.repeat(6)}`;
    const parts = split(slack, 100);
    expect(parts[0]?.whatsapp).toBe(`${'word '.repeat(12)}end`);
    expect(parts[0]?.separator).toBe('\n');
    expectFaithfulSplit(slack, parts, 100);
  });

  it('prefers a sentence end over a later space', () => {
    const slack = `${'First sentence goes on. '.repeat(3)}and then a very long clause without any stop at all`;
    const parts = split(slack, 100);
    expect(parts[0]?.whatsapp.endsWith('.')).toBe(true);
    expectFaithfulSplit(slack, parts, 100);
  });

  it('uses the last space that fits when there is nothing better', () => {
    const slack = 'lorem ipsum '.repeat(20).trim();
    const parts = split(slack, 50);
    expect(parts.map((part) => part.separator).slice(0, -1)).toEqual(parts.slice(0, -1).map(() => ' '));
    expect(parts[0]?.length).toBeGreaterThan(40);
    expectFaithfulSplit(slack, parts, 50);
  });

  it('moves a short bold span whole to the next part instead of cutting it', () => {
    const slack = `${'x '.repeat(20)}*bold words together* tail`;
    const parts = split(slack, 50);
    expect(parts.map((part) => part.whatsapp)).toEqual([`${'x '.repeat(20).trim()}`, '*bold words together* tail']);
    expect(parts.every((part) => part.reopened === '' && part.closed === '')).toBe(true);
  });

  it('does not start a part with a dash that WhatsApp would show as a bullet', () => {
    const slack = `${'word '.repeat(8)}- not a list item`;
    const parts = split(slack, 45);
    expect(parts.some((part) => part.whatsapp.startsWith('- '))).toBe(false);
    expectFaithfulSplit(slack, parts, 45);
  });

  it('splits a long code block into blocks that are each closed and re-opened', () => {
    const code = Array.from({ length: 200 }, (_, i) => `console.log(${i}); // step ${i}`).join('\n');
    const slack = `Here is the script:\n\`\`\`${code}\`\`\`\nThanks`;
    const parts = split(slack, 1600);
    expect(parts.length).toBeGreaterThan(3);
    expect(parts[0]?.whatsapp.startsWith('Here is the script:\n```console.log(0);')).toBe(true);
    for (const part of parts.slice(1)) expect(part.whatsapp.startsWith('```')).toBe(true);
    for (const part of parts.slice(0, -1)) {
      expect(part.whatsapp.endsWith('```')).toBe(true);
      expect(part.separator).toBe('\n');
    }
    expect(parts.at(-1)?.whatsapp.endsWith('```\nThanks')).toBe(true);
    expect(parts[1]?.content.startsWith('\\`\\`\\`console.log(')).toBe(true);
    expectFaithfulSplit(slack, parts, 1600);
  });

  it('closes and re-opens a bold span longer than a part at a word boundary', () => {
    const slack = `Note: *${'very important words '.repeat(10).trim()}* end`;
    const parts = split(slack, 80);
    expect(parts[0]?.whatsapp.startsWith('Note: *very')).toBe(true);
    expect(parts[0]?.closed).toBe('*');
    expect(parts[1]?.reopened).toBe('*');
    expect(parts[1]?.content.startsWith('**')).toBe(true);
    expect(parts.at(-1)?.whatsapp.endsWith('* end')).toBe(true);
    expectFaithfulSplit(slack, parts, 80);
  });

  it('re-opens a quote that is longer than a part', () => {
    const slack = `&gt; ${'quoted words '.repeat(12).trim()}`;
    const parts = split(slack, 60);
    for (const part of parts) expect(part.whatsapp.startsWith('> ')).toBe(true);
    for (const part of parts) expect(part.content.startsWith('\\> ')).toBe(true);
    expectFaithfulSplit(slack, parts, 60);
  });

  it.each([
    { maxLength: 4096, lengths: [4096, 4096, 1808] },
    { maxLength: 1600, lengths: [1600, 1600, 1600, 1600, 1600, 1600, 400] },
  ])('cuts a single 10,000-character word into parts of at most $maxLength', ({ maxLength, lengths }) => {
    const slack = 'x'.repeat(10_000);
    const parts = split(slack, maxLength);
    expect(parts.map((part) => part.length)).toEqual(lengths);
    expect(parts.map((part) => part.separator)).toEqual(lengths.map(() => ''));
    expectFaithfulSplit(slack, parts, maxLength);
  });

  it.each([
    { emoji: '👍🏽', what: 'a skin-tone emoji' },
    { emoji: '👨‍👩‍👧', what: 'a family ZWJ sequence' },
    { emoji: '🇫🇷', what: 'a flag' },
    { emoji: 'e\u0301', what: 'a letter with a combining accent' },
  ])('never cuts $what in half at the limit', ({ emoji }) => {
    const slack = `${'a'.repeat(4095)}${emoji}${'b'.repeat(10)}`;
    const parts = split(slack, 4096);
    expect(parts[0]?.whatsapp).toBe('a'.repeat(4095));
    expect(parts[1]?.whatsapp).toBe(`${emoji}${'b'.repeat(10)}`);
    expectFaithfulSplit(slack, parts, 4096);
  });

  it('keeps an emoji whole when the limit falls inside its surrogate pair', () => {
    const slack = `${'a'.repeat(1599)}😀 end`;
    const parts = split(slack, 1600);
    expect(parts.map((part) => part.whatsapp)).toEqual(['a'.repeat(1599), '😀 end']);
  });

  it('refuses when more than the maximum number of parts would be needed', () => {
    expect(splitMessage(parseSlack('word '.repeat(100)), { maxLength: 50, maxParts: 3 })).toEqual({ ok: false });
  });

  it('packs parts tighter when cutting at every paragraph would need too many parts', () => {
    const slack = Array.from({ length: 4 }, () => 'ab '.repeat(20).trim()).join('\n\n');
    expect(split(slack, 100).map((part) => part.separator)).toEqual(['\n\n', '\n\n', '\n\n', '']);
    const tight = splitMessage(parseSlack(slack), { maxLength: 100, maxParts: 3 });
    expect(tight.ok && tight.parts.length).toBe(3);
    if (tight.ok) expectFaithfulSplit(slack, tight.parts, 100);
  });

  it('splits random texts without losing, duplicating or breaking anything', () => {
    const vocabulary = [
      'word',
      'another',
      'x',
      'Sentence.',
      'Really?',
      '*bold words here*',
      '_italic words_',
      '~struck~',
      '`a code span`',
      '```code line\n  indented\n\nmore code```',
      '&gt; quoted line',
      '\n',
      '\n\n',
      ' ',
      '  ',
      '👍🏽',
      '👨‍👩‍👧',
      'e\u0301',
      '- dash',
      '1. one',
      '<https://example.com/a_b|a label>',
      '<@U1|jane>',
      ':smile:',
      'x'.repeat(45),
      '\t',
      '#',
      '\\',
    ];
    let seed = 2024;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const problems: string[] = [];
    for (let run = 0; run < 300; run += 1) {
      let slack = '';
      const words = 5 + Math.floor(random() * 80);
      for (let i = 0; i < words; i += 1) {
        slack += vocabulary[Math.floor(random() * vocabulary.length)] + (random() < 0.7 ? ' ' : '');
      }
      const maxLength = 16 + Math.floor(random() * 150);
      const result = splitMessage(parseSlack(slack), { maxLength, maxParts: 1000 });
      if (result.ok) problems.push(...splitProblems(slack, result.parts, maxLength));
      else problems.push(`${JSON.stringify(slack)} did not split at ${maxLength}`);
    }
    expect(problems).toEqual([]);
  });
});
