import { describe, expect, it } from 'vitest';
import { prepareText } from '../../src/compose/prepare-text.ts';

const WHATSAPP = { maxLength: 4096, maxParts: 10 };
const TWILIO = { maxLength: 1600, maxParts: 10 };

describe('prepareText', () => {
  it('returns one part with the CommonMark content and the WhatsApp text when the text fits', () => {
    expect(prepareText('Hi <@U1>, *your order* shipped :tada:', { ...WHATSAPP, names: { user: () => 'Ann' } })).toEqual(
      {
        ok: true,
        parts: [
          { content: 'Hi @Ann, **your order** shipped 🎉', whatsapp: 'Hi @Ann, *your order* shipped 🎉', length: 32 },
        ],
        length: 32,
      },
    );
  });

  it.each([
    { text: 'plain', length: 5 },
    { text: '😀', length: 2 },
    { text: ':thumbsup::skin-tone-3:', length: 4 },
    { text: '*bold*', length: 6 },
    { text: '&lt;&gt;', length: 2 },
  ])('counts "$text" as $length UTF-16 units of the WhatsApp text', ({ text, length }) => {
    const result = prepareText(text, WHATSAPP);
    expect(result.ok && result.parts[0]?.length).toBe(length);
    expect(result.length).toBe(length);
  });

  it('sends a text of exactly the limit as one part', () => {
    const result = prepareText('a'.repeat(4096), WHATSAPP);
    expect(result.ok && result.parts.length).toBe(1);
  });

  it('splits a text one character over the limit into two parts', () => {
    const result = prepareText(`${'a'.repeat(4000)} ${'b'.repeat(96)}`, WHATSAPP);
    expect(result.ok && result.parts.map((part) => part.length)).toEqual([4000, 96]);
    expect(result.length).toBe(4097);
  });

  it('splits at paragraphs for Twilio and keeps each part within 1,600 characters', () => {
    const paragraph = 'This is a sentence. '.repeat(45).trim();
    const text = [paragraph, paragraph, paragraph].join('\n\n');
    const result = prepareText(text, TWILIO);
    if (!result.ok) throw new Error(result.message);
    expect(result.parts.map((part) => part.whatsapp)).toEqual([paragraph, paragraph, paragraph]);
    expect(result.parts.every((part) => part.length <= 1600)).toBe(true);
  });

  it.each([
    { text: '', why: 'nothing' },
    { text: '   \n\n\t ', why: 'only whitespace' },
    { text: '\u200B\u2060', why: 'only invisible characters' },
  ])('refuses $why as an empty message', ({ text }) => {
    const result = prepareText(text, WHATSAPP);
    expect(result).toMatchObject({ ok: false, code: 'empty' });
    expect(!result.ok && result.message).toBe('The message is empty. Write the text to send.');
  });

  it('refuses a text needing more than the maximum parts with a message stating the length and limits', () => {
    const text = `${'word '.repeat(10_461)}words`;
    expect(prepareText(text, WHATSAPP)).toEqual({
      ok: false,
      code: 'too_long',
      length: 52_310,
      message:
        'The message is 52,310 characters; WhatsApp allows 4,096 per message and this bridge sends at most 10 parts. Shorten it or send it as a file.',
    });
  });

  it('refuses a text over the limit when only one part is allowed', () => {
    const result = prepareText('a'.repeat(2000), { maxLength: 1600, maxParts: 1 });
    expect(!result.ok && result.message).toBe(
      'The message is 2,000 characters; WhatsApp allows 1,600 per message and this bridge sends one message. Shorten it or send it as a file.',
    );
  });

  it('returns parts whose WhatsApp texts, joined, give back the whole text', () => {
    const text = Array.from(
      { length: 30 },
      (_, i) => `Line ${i}: *done* _ok_ <https://example.com/${i}|link ${i}>`,
    ).join('\n');
    const full = prepareText(text, { maxLength: 100_000, maxParts: 1 });
    const result = prepareText(text, { maxLength: 500, maxParts: 10 });
    if (!result.ok || !full.ok) throw new Error('expected parts');
    expect(result.parts.length).toBeGreaterThan(1);
    expect(result.parts.map((part) => part.whatsapp).join('\n')).toBe(full.parts[0]?.whatsapp);
    expect(result.length).toBe(full.length);
  });

  it.each([
    { options: { maxLength: 0, maxParts: 10 }, why: 'a zero length limit' },
    { options: { maxLength: 4096, maxParts: 0 }, why: 'zero parts' },
    { options: { maxLength: 10.5, maxParts: 10 }, why: 'a fractional length limit' },
  ])('rejects $why as a programming error', ({ options }) => {
    expect(() => prepareText('hello', options)).toThrow(RangeError);
  });
});
