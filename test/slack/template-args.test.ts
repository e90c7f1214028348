import { describe, expect, test } from 'vitest';
import { parseTemplateArgs, plainSlackText } from '../../src/slack/template-args.ts';

describe('/whatsapp template arguments', () => {
  test('name, language and variables, quoted with straight or curly quotes', () => {
    expect(parseTemplateArgs('order_update lang=en_US 1=Jane 2="order 4411" customer_name=“Ana Lía”')).toEqual({
      ok: true,
      value: {
        name: 'order_update',
        language: 'en_US',
        values: { '1': 'Jane', '2': 'order 4411', customer_name: 'Ana Lía' },
      },
    });
  });

  test('values come out as typed, not as Slack escaped or linked them', () => {
    const parsed = parseTemplateArgs(
      'promo 1=Tom&amp;Jerry 2=<https://shop.example/x|shop.example/x> 3=<mailto:a@b.example|a@b.example>',
    );
    expect(parsed.ok && parsed.value.values).toEqual({ '1': 'Tom&Jerry', '2': 'shop.example/x', '3': 'a@b.example' });
    expect(plainSlackText('&lt;b&gt;')).toBe('<b>');
  });

  test('says what is wrong: no name, a stray word, an open quote', () => {
    expect(parseTemplateArgs('')).toMatchObject({ ok: false, message: expect.stringMatching(/Name the template/) });
    expect(parseTemplateArgs('1=Jane')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/before its variables/),
    });
    expect(parseTemplateArgs('order_update Jane')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/key=value/),
    });
    expect(parseTemplateArgs('order_update 2="order 4411')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/quote is not closed/),
    });
  });
});
