import { describe, expect, it } from 'vitest';
import {
  describeTemplate,
  fillTemplate,
  findTemplate,
  parseTemplates,
  type WhatsAppTemplate,
} from '../../src/templates/whatsapp-templates.ts';
import {
  dialogHello,
  invoiceDocument,
  namedWelcome,
  orderUpdate,
  orderUpdateSpanish,
  pending,
  promoImage,
  rejected,
} from './meta-templates.ts';

const ALL = [
  promoImage,
  orderUpdate,
  rejected,
  namedWelcome,
  pending,
  invoiceDocument,
  dialogHello,
  orderUpdateSpanish,
];

function only(raw: unknown): WhatsAppTemplate {
  const { templates, skipped } = parseTemplates([raw]);
  expect(skipped).toEqual([]);
  const [template] = templates;
  if (template === undefined) throw new Error('no template parsed');
  return template;
}

describe('parseTemplates', () => {
  it('keeps the approved templates, sorted by name then language', () => {
    const { templates, skipped } = parseTemplates(ALL);
    expect(templates.map((t) => `${t.name}/${t.language}`)).toEqual([
      'hello/de',
      'invoice_ready/en_GB',
      'order_update/en_US',
      'order_update/es',
      'spring_promo/en',
      'welcome_named/en',
    ]);
    expect(skipped).toEqual([]);
  });

  it('reads a positional template with a text header, footer and buttons', () => {
    expect(only(orderUpdate)).toEqual({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      parameterFormat: 'POSITIONAL',
      header: { format: 'TEXT', text: 'Order {{1}}' },
      body: 'Hi {{1}}, your order {{2}} is on its way and should arrive by {{3}}.',
      footer: 'Acme Shop',
      buttons: [
        { type: 'QUICK_REPLY', text: 'Stop updates' },
        { type: 'URL', text: 'Track', url: 'https://acme.example/track/{{1}}' },
      ],
      variables: [
        { key: 'header_1', component: 'header', label: 'Header {{1}}', example: '4411' },
        { key: '1', component: 'body', label: 'Body {{1}}', example: 'Jane' },
        { key: '2', component: 'body', label: 'Body {{2}}', example: '4411' },
        { key: '3', component: 'body', label: 'Body {{3}}', example: 'Friday' },
        { key: 'button_1', component: 'button', label: 'Button "Track" URL suffix', buttonIndex: 1, example: 'AB12' },
      ],
    });
  });

  it('reads a named template (spaces inside braces allowed) with a copy-code button', () => {
    const template = only(namedWelcome);
    expect(template.parameterFormat).toBe('NAMED');
    expect(template.variables).toEqual([
      { key: 'customer_name', component: 'body', label: 'Body {{customer_name}}', example: 'Jane' },
      { key: 'discount_code', component: 'body', label: 'Body {{discount_code}}', example: 'WELCOME10' },
      {
        key: 'button_0',
        component: 'button',
        label: 'Button "Copy offer code" code',
        buttonIndex: 0,
        maxLength: 15,
        example: 'WELCOME10',
      },
    ]);
  });

  it('asks for a media URL for media headers, and optionally a file name for documents', () => {
    expect(only(invoiceDocument).header).toEqual({ format: 'DOCUMENT' });
    expect(only(invoiceDocument).variables.filter((v) => v.component === 'header')).toEqual([
      { key: 'header_media_url', component: 'header', label: 'Header document URL' },
      { key: 'header_media_name', component: 'header', label: 'Header document file name', optional: true },
    ]);
    expect(only(promoImage).variables.map((v) => v.key)).toEqual(['header_media_url', 'button_1']);
    expect(only(promoImage).category).toBe('MARKETING');
  });

  it('accepts 360dialog’s lower-case status and types and keeps its namespace', () => {
    expect(only(dialogHello)).toEqual({
      name: 'hello',
      language: 'de',
      category: 'UTILITY',
      parameterFormat: 'POSITIONAL',
      namespace: 'c8ae5f90_307a_ca4c_b8f6_d1e2a2573574',
      header: { format: 'TEXT', text: 'Hallo' },
      body: 'Hallo {{1}}, danke für Ihre Nachricht.',
      buttons: [],
      variables: [{ key: '1', component: 'body', label: 'Body {{1}}' }],
    });
  });

  it('leaves out rejected and pending templates without calling them malformed', () => {
    expect(parseTemplates([rejected, pending, { ...orderUpdate, status: 'paused' }])).toEqual({
      templates: [],
      skipped: [],
    });
  });

  it('skips malformed and unsendable approved templates, saying why', () => {
    const approved = { status: 'APPROVED', category: 'UTILITY' };
    const body = (text: string) => [{ type: 'BODY', text }];
    const { templates, skipped } = parseTemplates([
      'not a template',
      { ...approved, language: 'en', components: body('x') },
      { ...approved, name: 'no_language', components: body('x') },
      { ...approved, name: 'no_components', language: 'en' },
      { ...approved, name: 'no_body', language: 'en', components: [{ type: 'FOOTER', text: 'f' }] },
      {
        ...approved,
        name: 'location',
        language: 'en',
        components: [{ type: 'HEADER', format: 'LOCATION' }, ...body('Here')],
      },
      { ...approved, name: 'gap', language: 'en', components: body('{{1}} and {{3}}') },
      { ...approved, name: 'mixed', language: 'en', parameter_format: 'NAMED', components: body('{{1}} {{name}}') },
      { ...approved, name: 'unmarked_named', language: 'en', components: body('Hi {{name}}') },
      { ...approved, name: 'bad_placeholder', language: 'en', components: body('Hi {{first name}}') },
      {
        ...approved,
        name: 'otp',
        language: 'en',
        components: [...body('{{1}} is your code.'), { type: 'BUTTONS', buttons: [{ type: 'OTP', text: 'Copy' }] }],
      },
      {
        ...approved,
        name: 'named_header',
        language: 'en',
        parameter_format: 'NAMED',
        components: [{ type: 'HEADER', format: 'TEXT', text: 'Hi {{name}}' }, ...body('Body {{code}}')],
      },
      orderUpdate,
      { ...orderUpdate, language: 'EN_us' },
    ]);
    expect(templates.map((t) => t.name)).toEqual(['order_update']);
    expect(skipped).toEqual([
      { name: '#1', reason: 'it is not an object' },
      { name: '#2', reason: 'it has no name' },
      { name: 'no_language', reason: 'it has no language' },
      { name: 'no_components (en)', reason: 'it has no components list' },
      { name: 'no_body (en)', reason: 'it has no body text' },
      { name: 'location (en)', reason: 'its location header cannot be sent through Chatwoot' },
      {
        name: 'gap (en)',
        reason: 'its body variables are not numbered {{1}} to {{2}}, so Chatwoot would fill the wrong ones',
      },
      { name: 'mixed (en)', reason: 'it mixes numbered and named variables' },
      {
        name: 'unmarked_named (en)',
        reason:
          "it uses named variables but Chatwoot's copy says parameter_format (none), so Chatwoot would send them unnamed; sync the templates again",
      },
      { name: 'bad_placeholder (en)', reason: 'it has placeholders that are not variables: {{first name}}' },
      { name: 'otp (en)', reason: 'its OTP button "Copy" cannot be filled through Chatwoot' },
      { name: 'named_header (en)', reason: 'it has a named variable in its header, which Chatwoot cannot send' },
      { name: 'order_update', reason: 'it is listed twice for language EN_us' },
    ]);
  });

  it('reads nothing from a missing list and reports a list that is not one', () => {
    expect(parseTemplates(undefined)).toEqual({ templates: [], skipped: [] });
    expect(parseTemplates(null)).toEqual({ templates: [], skipped: [] });
    expect(parseTemplates({})).toEqual({
      templates: [],
      skipped: [{ name: '(all)', reason: 'message_templates is not a list' }],
    });
  });
});

describe('findTemplate', () => {
  const { templates } = parseTemplates(ALL);

  it('finds by exact name and case-insensitive language', () => {
    expect(findTemplate(templates, 'order_update', 'en_us').template?.language).toBe('en_US');
    expect(findTemplate(templates, 'order_update', 'EN-US').template?.language).toBe('en_US');
    expect(findTemplate(templates, 'order_update', 'es').template?.language).toBe('es');
  });

  it('without a language, finds the only one, else lists the candidates', () => {
    expect(findTemplate(templates, 'hello').template?.language).toBe('de');
    const ambiguous = findTemplate(templates, 'order_update');
    expect(ambiguous.template).toBeUndefined();
    expect(ambiguous.candidates.map((t) => t.language)).toEqual(['en_US', 'es']);
  });

  it('finds nothing for another language or a name in another case', () => {
    const wrongLanguage = findTemplate(templates, 'order_update', 'fr');
    expect(wrongLanguage.template).toBeUndefined();
    expect(wrongLanguage.candidates).toHaveLength(2);
    expect(findTemplate(templates, 'Order_Update')).toEqual({ candidates: [] });
  });
});

describe('fillTemplate', () => {
  it('builds positional template_params with a text header and a URL button at its index', () => {
    const result = fillTemplate(only(orderUpdate), {
      header_1: '4411',
      '1': 'Jane',
      '2': '4411',
      '3': 'Friday',
      button_1: 'AB12',
    });
    expect(result).toEqual({
      ok: true,
      rendered: 'Order 4411\n\nHi Jane, your order 4411 is on its way and should arrive by Friday.\n\nAcme Shop',
      templateParams: {
        name: 'order_update',
        language: 'en_US',
        category: 'UTILITY',
        processed_params: {
          body: { '1': 'Jane', '2': '4411', '3': 'Friday' },
          header: { '1': '4411' },
          buttons: [null, { type: 'url', parameter: 'AB12' }],
        },
      },
      adjustments: [],
    });
  });

  it('keeps positional body values in numeric order (Chatwoot ignores the keys)', () => {
    const raw = {
      ...orderUpdate,
      components: [{ type: 'BODY', text: Array.from({ length: 11 }, (_, i) => `{{${11 - i}}}`).join(' ') }],
    };
    const values = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [String(i + 1), `v${i + 1}`]));
    const result = fillTemplate(only(raw), values);
    if (!result.ok) throw new Error('expected ok');
    expect(JSON.stringify(result.templateParams.processed_params['body'])).toBe(
      JSON.stringify(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [String(i + 1), `v${i + 1}`]))),
    );
    expect(result.rendered).toBe('v11 v10 v9 v8 v7 v6 v5 v4 v3 v2 v1');
  });

  it('builds named template_params with a copy-code button', () => {
    const result = fillTemplate(only(namedWelcome), {
      customer_name: 'Jane',
      discount_code: 'WELCOME10',
      button_0: 'WELCOME10',
    });
    expect(result).toEqual({
      ok: true,
      rendered: 'Welcome Jane! Your code is WELCOME10.',
      templateParams: {
        name: 'welcome_named',
        language: 'en',
        category: 'MARKETING',
        processed_params: {
          body: { customer_name: 'Jane', discount_code: 'WELCOME10' },
          buttons: [{ type: 'copy_code', parameter: 'WELCOME10' }],
        },
      },
      adjustments: [],
    });
  });

  it('builds a document header with its file name, and an image header without variables elsewhere', () => {
    expect(
      fillTemplate(only(invoiceDocument), {
        header_media_url: 'https://files.example/inv-7.pdf',
        header_media_name: 'INV-7.pdf',
        '1': 'INV-7',
      }),
    ).toEqual({
      ok: true,
      rendered: 'Your invoice INV-7 is attached.',
      templateParams: {
        name: 'invoice_ready',
        language: 'en_GB',
        category: 'UTILITY',
        processed_params: {
          body: { '1': 'INV-7' },
          header: { media_url: 'https://files.example/inv-7.pdf', media_type: 'document', media_name: 'INV-7.pdf' },
        },
      },
      adjustments: [],
    });
    expect(
      fillTemplate(only(invoiceDocument), { header_media_url: 'https://files.example/inv-7.pdf', '1': 'INV-7' }),
    ).toMatchObject({
      templateParams: {
        processed_params: { header: { media_url: 'https://files.example/inv-7.pdf', media_type: 'document' } },
      },
    });
    expect(
      fillTemplate(only(promoImage), { header_media_url: 'https://cdn.example/spring.jpg', button_1: 'SPRING20' }),
    ).toEqual({
      ok: true,
      rendered: 'Spring sale: 20% off everything this week.',
      templateParams: {
        name: 'spring_promo',
        language: 'en',
        category: 'MARKETING',
        processed_params: {
          header: { media_url: 'https://cdn.example/spring.jpg', media_type: 'image' },
          buttons: [null, { type: 'copy_code', parameter: 'SPRING20' }],
        },
      },
      adjustments: [],
    });
  });

  it('sends processed_params empty for a template without variables, and 360dialog’s namespace', () => {
    const plain = { ...dialogHello, components: [{ type: 'body', text: 'Danke!' }] };
    expect(fillTemplate(only(plain), {})).toEqual({
      ok: true,
      rendered: 'Danke!',
      templateParams: {
        name: 'hello',
        language: 'de',
        category: 'UTILITY',
        namespace: 'c8ae5f90_307a_ca4c_b8f6_d1e2a2573574',
        processed_params: {},
      },
      adjustments: [],
    });
  });

  it('leaves category out when the template has none', () => {
    const { category: _category, ...uncategorised } = dialogHello;
    const result = fillTemplate(only(uncategorised), { '1': 'Max' });
    expect(result.ok && result.templateParams).toEqual({
      name: 'hello',
      language: 'de',
      namespace: 'c8ae5f90_307a_ca4c_b8f6_d1e2a2573574',
      processed_params: { body: { '1': 'Max' } },
    });
  });

  it('names every missing value, with the example when there is one', () => {
    expect(fillTemplate(only(orderUpdate), { '1': 'Jane', '2': '  ' })).toEqual({
      ok: false,
      problems: [
        {
          key: 'header_1',
          label: 'Header {{1}}',
          message: 'Header {{1}} is missing: fill it in (for example "4411").',
        },
        { key: '2', label: 'Body {{2}}', message: 'Body {{2}} is missing: fill it in (for example "4411").' },
        { key: '3', label: 'Body {{3}}', message: 'Body {{3}} is missing: fill it in (for example "Friday").' },
        {
          key: 'button_1',
          label: 'Button "Track" URL suffix',
          message: 'Button "Track" URL suffix is missing: fill it in (for example "AB12").',
        },
      ],
    });
  });

  it('rejects a copy code over 15 characters, a media URL that is not http(s), and unknown values', () => {
    expect(
      fillTemplate(only(promoImage), {
        header_media_url: 'ftp://files.example/a.jpg',
        button_1: 'SPRING2026SUPERSALE',
        '1': 'x',
      }),
    ).toEqual({
      ok: false,
      problems: [
        {
          key: '1',
          label: '1',
          message: 'Template spring_promo has no value called "1": its values are header_media_url, button_1.',
        },
        {
          key: 'header_media_url',
          label: 'Header image URL',
          message: 'Header image URL must be a web address starting with https:// (got "ftp://files.example/a.jpg").',
        },
        {
          key: 'button_1',
          label: 'Button "Copy code" code',
          message: 'Button "Copy code" code is 19 characters long; WhatsApp allows up to 15.',
        },
      ],
    });
    expect(fillTemplate(only(promoImage), { header_media_url: 'not a url', button_1: 'X' })).toMatchObject({
      ok: false,
      problems: [{ key: 'header_media_url' }],
    });
  });

  it('shows what Chatwoot will strip from text values, in the rendered text and the params', () => {
    const result = fillTemplate(only(dialogHello), { '1': ' Dr. "Max" O\'Brien\n<b> ' });
    expect(result).toEqual({
      ok: true,
      rendered: 'Hallo\n\nHallo Dr. Max OBrien b, danke für Ihre Nachricht.',
      templateParams: {
        name: 'hello',
        language: 'de',
        category: 'UTILITY',
        namespace: 'c8ae5f90_307a_ca4c_b8f6_d1e2a2573574',
        processed_params: { body: { '1': 'Dr. Max OBrien b' } },
      },
      adjustments: [
        {
          key: '1',
          label: 'Body {{1}}',
          message:
            'Body {{1}}: Chatwoot removes < > " \' and line breaks from template values, so the customer sees "Dr. Max OBrien b".',
        },
      ],
    });
    expect(fillTemplate(only(dialogHello), { '1': '<>' })).toMatchObject({ ok: false, problems: [{ key: '1' }] });
    expect(fillTemplate(only(dialogHello), { '1': 'x'.repeat(1001) })).toMatchObject({
      ok: false,
      problems: [{ message: 'Body {{1}} is 1001 characters long; Chatwoot sends at most 1000.' }],
    });
  });
});

describe('describeTemplate', () => {
  it('gives one line with name, language, category and the start of the body', () => {
    expect(describeTemplate(only(orderUpdate))).toBe(
      'order_update (en_US, UTILITY): Hi {{1}}, your order {{2}} is on its way and should arrive by {{3}}.',
    );
    const long = only({
      ...dialogHello,
      category: undefined,
      components: [{ type: 'BODY', text: `Line one\n\n${'word '.repeat(30)}` }],
    });
    const line = describeTemplate(long);
    expect(line.startsWith('hello (de): Line one word word')).toBe(true);
    expect(line.endsWith('…')).toBe(true);
    expect(line).not.toContain('\n');
    expect([...line.slice('hello (de): '.length)].length).toBeLessThanOrEqual(80);
  });
});
