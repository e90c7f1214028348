/**
 * WhatsApp message templates approved by Meta, as Chatwoot keeps them on the inbox (`message_templates`), and the
 * `template_params` Chatwoot needs to send one. Pure functions: no I/O.
 *
 * What Chatwoot does with `template_params` (app/services/whatsapp/template_processor_service.rb and
 * populate_template_parameters_service.rb, v4.15) shapes what is built here:
 * - the template is found by exact name, case-insensitive language and APPROVED status;
 * - body values are sent in the order of the `body` object (keys ignored unless the template's `parameter_format` is
 *   exactly "NAMED"), and blank values are dropped, which shifts the rest: so every value must be filled;
 * - body and header text values lose `< > " '`, line breaks and tabs; runs of 4+ spaces become 3;
 * - a button's index is its position in `buttons`, so that list follows the template's buttons, `null` where a
 *   button takes no value (as Chatwoot's own dashboard sends it);
 * - a copy-code value longer than 15 characters makes the send fail; media URLs must be http(s).
 */

export interface TemplateVariable {
  /** What the value is filled under: '1' or 'customer_name' (body), 'header_1', 'header_media_url', 'button_0'. */
  readonly key: string;
  readonly component: 'body' | 'header' | 'button';
  /** For people: 'Body {{1}}', 'Header {{1}}', 'Header image URL', 'Button "Track" URL suffix'. */
  readonly label: string;
  readonly example?: string;
  /** Position of the button in the template (buttons only). */
  readonly buttonIndex?: number;
  /** Copy-code buttons: 15. */
  readonly maxLength?: number;
  /** May be left empty (the file name of a document header). */
  readonly optional?: boolean;
}

export interface TemplateButton {
  /** Upper case, as Meta writes it: 'URL', 'QUICK_REPLY', 'COPY_CODE', 'PHONE_NUMBER', … */
  readonly type: string;
  readonly text: string;
  readonly url?: string;
}

export interface WhatsAppTemplate {
  readonly name: string;
  /** As Meta wrote it (e.g. 'en_US'); sent back unchanged. */
  readonly language: string;
  readonly category: string | undefined;
  readonly parameterFormat: 'POSITIONAL' | 'NAMED';
  /** 360dialog only: sent with the template. */
  readonly namespace?: string;
  /** `format` upper case: TEXT, IMAGE, VIDEO or DOCUMENT. A media header needs a URL: variable 'header_media_url'. */
  readonly header?: { readonly format: string; readonly text?: string };
  readonly body: string;
  readonly footer?: string;
  readonly buttons: readonly TemplateButton[];
  /** Every value the template needs, in the order WhatsApp shows them: header, body, buttons. */
  readonly variables: readonly TemplateVariable[];
}

export interface SkippedTemplate {
  readonly name: string;
  readonly reason: string;
}

export interface TemplateParams {
  readonly name: string;
  readonly language: string;
  readonly category?: string;
  /** 360dialog templates only. */
  readonly namespace?: string;
  readonly processed_params: Record<string, unknown>;
}

export interface TemplateProblem {
  readonly key: string;
  readonly label: string;
  readonly message: string;
}

export type FillTemplateResult =
  | {
      readonly ok: true;
      /** Header text, body and footer as WhatsApp shows them: for Chatwoot's `content` and the Slack preview. */
      readonly rendered: string;
      readonly templateParams: TemplateParams;
      /** Values Chatwoot will change before sending (characters it removes), so the preview already shows them so. */
      readonly adjustments: TemplateProblem[];
    }
  | { readonly ok: false; readonly problems: TemplateProblem[] };

export const HEADER_MEDIA_URL = 'header_media_url';
export const HEADER_MEDIA_NAME = 'header_media_name';
/** Chatwoot refuses longer copy-code values. */
export const COPY_CODE_MAX_LENGTH = 15;
/** Chatwoot cuts longer text values. */
const TEXT_VALUE_MAX_LENGTH = 1000;
const MEDIA_URL_MAX_LENGTH = 2000;
const MEDIA_FORMATS = ['IMAGE', 'VIDEO', 'DOCUMENT'] as const;
/** Buttons that take no value when sent. */
const STATIC_BUTTONS = new Set(['QUICK_REPLY', 'PHONE_NUMBER', 'VOICE_CALL', 'URL', 'FLOW']);

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const POSITIONAL_NAME = /^[1-9][0-9]*$/;
const NAMED_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type RawRecord = Record<string, unknown>;

const isRecord = (value: unknown): value is RawRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const upper = (value: unknown): string | undefined => (typeof value === 'string' ? value.toUpperCase() : undefined);
const firstString = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return firstString(value[0]);
  return undefined;
};

/** Placeholder names in order of first appearance, and those that are not valid names. */
function placeholders(source: string): { names: string[]; invalid: string[] } {
  const names: string[] = [];
  const invalid: string[] = [];
  for (const match of source.matchAll(PLACEHOLDER)) {
    const name = (match[1] ?? '').trim();
    if (!POSITIONAL_NAME.test(name) && !NAMED_NAME.test(name)) invalid.push(match[0]);
    else if (!names.includes(name)) names.push(name);
  }
  return { names, invalid };
}

/** Replaces `{{name}}` (spaces inside the braces allowed) with the value, leaving unknown names as they are. */
function substitute(source: string, values: Readonly<Record<string, string>>): string {
  return source.replace(PLACEHOLDER, (whole, inner: string) => values[inner.trim()] ?? whole);
}

class Malformed extends Error {}

function parseOne(raw: RawRecord, name: string, language: string): WhatsAppTemplate {
  const components = raw['components'];
  if (!Array.isArray(components)) throw new Malformed('it has no components list');
  const byType = (type: string): RawRecord | undefined =>
    components.find((component): component is RawRecord => isRecord(component) && upper(component['type']) === type);

  const bodyComponent = byType('BODY');
  const body = text(bodyComponent?.['text']);
  if (bodyComponent === undefined || body === undefined || body.trim() === '') {
    throw new Malformed('it has no body text');
  }
  const headerComponent = byType('HEADER');
  const headerFormat = headerComponent === undefined ? undefined : (upper(headerComponent['format']) ?? 'TEXT');
  const headerText = headerFormat === 'TEXT' ? text(headerComponent?.['text']) : undefined;
  if (
    headerFormat !== undefined &&
    headerFormat !== 'TEXT' &&
    !(MEDIA_FORMATS as readonly string[]).includes(headerFormat)
  ) {
    throw new Malformed(`its ${headerFormat.toLowerCase()} header cannot be sent through Chatwoot`);
  }
  const footer = text(byType('FOOTER')?.['text']);

  const bodyNames = placeholders(body);
  const headerNames = placeholders(headerText ?? '');
  const invalid = [...headerNames.invalid, ...bodyNames.invalid];
  if (invalid.length > 0) throw new Malformed(`it has placeholders that are not variables: ${invalid.join(', ')}`);

  const allNames = [...headerNames.names, ...bodyNames.names];
  const named = allNames.filter((variable) => !POSITIONAL_NAME.test(variable));
  const declared = text(raw['parameter_format']);
  let parameterFormat: 'POSITIONAL' | 'NAMED';
  if (named.length > 0) {
    if (named.length < allNames.length) throw new Malformed('it mixes numbered and named variables');
    // Chatwoot sends names only when parameter_format is exactly "NAMED"; otherwise Meta gets unnamed values.
    if (declared !== 'NAMED') {
      throw new Malformed(
        `it uses named variables but Chatwoot's copy says parameter_format ${declared === undefined ? '(none)' : `"${declared}"`}, so Chatwoot would send them unnamed; sync the templates again`,
      );
    }
    parameterFormat = 'NAMED';
  } else {
    if (declared?.toUpperCase() === 'NAMED' && allNames.length > 0) {
      throw new Malformed('it is marked NAMED but uses numbered variables');
    }
    parameterFormat = declared?.toUpperCase() === 'NAMED' ? 'NAMED' : 'POSITIONAL';
    for (const [where, names] of [
      ['body', bodyNames.names],
      ['header', headerNames.names],
    ] as const) {
      const numbers = names.map(Number).sort((a, b) => a - b);
      if (numbers.some((number, index) => number !== index + 1)) {
        throw new Malformed(
          `its ${where} variables are not numbered {{1}} to {{${names.length}}}, so Chatwoot would fill the wrong ones`,
        );
      }
    }
  }
  if (parameterFormat === 'NAMED' && headerNames.names.length > 0) {
    // Chatwoot sends header values without `parameter_name`, which Meta requires for named templates.
    throw new Malformed('it has a named variable in its header, which Chatwoot cannot send');
  }

  const variables: TemplateVariable[] = [];
  const example = (value: string | undefined) => (value === undefined || value === '' ? {} : { example: value });

  // Header
  if (headerFormat === 'TEXT') {
    const examples = isRecord(headerComponent?.['example']) ? headerComponent['example'] : {};
    const positional = Array.isArray(examples['header_text']) ? examples['header_text'] : [];
    headerNames.names.forEach((variable, index) => {
      variables.push({
        key: `header_${variable}`,
        component: 'header',
        label: `Header {{${variable}}}`,
        ...example(firstString(positional[index])),
      });
    });
  } else if (headerFormat !== undefined) {
    const kind = headerFormat.toLowerCase();
    variables.push({ key: HEADER_MEDIA_URL, component: 'header', label: `Header ${kind} URL` });
    if (headerFormat === 'DOCUMENT') {
      variables.push({
        key: HEADER_MEDIA_NAME,
        component: 'header',
        label: 'Header document file name',
        optional: true,
      });
    }
  }

  // Body
  const bodyExamples = isRecord(bodyComponent['example']) ? bodyComponent['example'] : {};
  const positionalExamples = Array.isArray(bodyExamples['body_text']) ? bodyExamples['body_text'][0] : undefined;
  const namedExamples = Array.isArray(bodyExamples['body_text_named_params'])
    ? bodyExamples['body_text_named_params']
    : [];
  for (const variable of bodyNames.names) {
    const found =
      parameterFormat === 'NAMED'
        ? text(namedExamples.find((entry) => isRecord(entry) && entry['param_name'] === variable)?.example)
        : Array.isArray(positionalExamples)
          ? text(positionalExamples[Number(variable) - 1])
          : undefined;
    variables.push({ key: variable, component: 'body', label: `Body {{${variable}}}`, ...example(found) });
  }

  // Buttons
  const buttons: TemplateButton[] = [];
  const rawButtons = byType('BUTTONS')?.['buttons'];
  if (Array.isArray(rawButtons)) {
    rawButtons.forEach((rawButton: unknown, index) => {
      if (!isRecord(rawButton)) throw new Malformed(`its button ${index + 1} is not an object`);
      const type = upper(rawButton['type']) ?? '';
      const label = text(rawButton['text']) ?? '';
      const url = text(rawButton['url']);
      buttons.push({ type, text: label, ...(url === undefined ? {} : { url }) });
      if (type === 'URL' && url !== undefined) {
        const { names } = placeholders(url);
        if (names.length > 1) throw new Malformed(`its button "${label}" has more than one variable in its URL`);
        if (names.length === 1) {
          const prefix = url.slice(0, url.indexOf('{{'));
          const full = firstString(rawButton['example']);
          variables.push({
            key: `button_${index}`,
            component: 'button',
            label: `Button "${label}" URL suffix`,
            buttonIndex: index,
            ...example(full?.startsWith(prefix) === true ? full.slice(prefix.length) : undefined),
          });
        }
      } else if (type === 'COPY_CODE') {
        variables.push({
          key: `button_${index}`,
          component: 'button',
          label: `Button "${label === '' ? 'Copy code' : label}" code`,
          buttonIndex: index,
          maxLength: COPY_CODE_MAX_LENGTH,
          ...example(firstString(rawButton['example'])),
        });
      } else if (!STATIC_BUTTONS.has(type)) {
        throw new Malformed(
          `its ${type === '' ? 'untyped' : type} button "${label}" cannot be filled through Chatwoot`,
        );
      }
    });
  }

  const keys = variables.map((variable) => variable.key);
  const repeated = keys.find((key, index) => keys.indexOf(key) !== index);
  if (repeated !== undefined) throw new Malformed(`two of its values would be called "${repeated}"`);

  const category = text(raw['category']);
  const namespace = text(raw['namespace']);
  return {
    name,
    language,
    category: category === undefined || category === '' ? undefined : category,
    parameterFormat,
    ...(namespace === undefined || namespace === '' ? {} : { namespace }),
    ...(headerFormat === undefined
      ? {}
      : { header: { format: headerFormat, ...(headerText === undefined ? {} : { text: headerText }) } }),
    body,
    ...(footer === undefined || footer === '' ? {} : { footer }),
    buttons,
    variables,
  };
}

/**
 * The approved templates of an inbox's `message_templates` (status compared case-insensitively), sorted by name
 * then language. Entries that cannot be sent through Chatwoot are left out and listed in `skipped` with why.
 */
export function parseTemplates(raw: unknown): { templates: WhatsAppTemplate[]; skipped: SkippedTemplate[] } {
  const templates: WhatsAppTemplate[] = [];
  const skipped: SkippedTemplate[] = [];
  if (raw === undefined || raw === null) return { templates, skipped };
  if (!Array.isArray(raw)) {
    return { templates, skipped: [{ name: '(all)', reason: 'message_templates is not a list' }] };
  }
  raw.forEach((entry: unknown, index) => {
    const record = isRecord(entry) ? entry : undefined;
    const name = text(record?.['name']);
    const label = name === undefined || name === '' ? `#${index + 1}` : name;
    if (record === undefined) {
      skipped.push({ name: label, reason: 'it is not an object' });
      return;
    }
    if (upper(record['status']) !== 'APPROVED') return;
    const language = text(record['language']);
    if (name === undefined || name === '') {
      skipped.push({ name: label, reason: 'it has no name' });
      return;
    }
    if (language === undefined || language === '') {
      skipped.push({ name: label, reason: 'it has no language' });
      return;
    }
    if (templates.some((t) => t.name === name && sameLanguage(t.language, language))) {
      skipped.push({ name: label, reason: `it is listed twice for language ${language}` });
      return;
    }
    try {
      templates.push(parseOne(record, name, language));
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      skipped.push({ name: `${name} (${language})`, reason: error.message });
    }
  });
  templates.sort((a, b) => compare(a.name, b.name) || compare(a.language, b.language));
  return { templates, skipped };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const normaliseLanguage = (language: string): string => language.trim().toLowerCase().replaceAll('-', '_');
const sameLanguage = (a: string, b: string): boolean => normaliseLanguage(a) === normaliseLanguage(b);

/**
 * Finds a template by name (exact, as Meta's names are) and language (case-insensitive; 'en-us' finds 'en_US').
 * Without a language, the name's only language. `candidates`: every template of that name, to list the languages
 * when none or several match.
 */
export function findTemplate(
  templates: readonly WhatsAppTemplate[],
  name: string,
  language?: string,
): { template?: WhatsAppTemplate; candidates: WhatsAppTemplate[] } {
  const candidates = templates.filter((template) => template.name === name);
  const template =
    language === undefined || language.trim() === ''
      ? candidates.length === 1
        ? candidates[0]
        : undefined
      : candidates.find((candidate) => sameLanguage(candidate.language, language));
  return template === undefined ? { candidates } : { template, candidates };
}

/** Ruby's `blank?`: empty or only whitespace. */
const isBlank = (value: string | undefined): boolean => value === undefined || value.trim() === '';
const RUBY_SPACE = '\\0\\t\\n\\v\\f\\r ';
const RUBY_STRIP = new RegExp(`^[${RUBY_SPACE}]+|[${RUBY_SPACE}]+$`, 'g');

/** What Chatwoot does to a body or header text value before sending it (`sanitize_parameter`, less the cut). */
function chatwootText(value: string): string {
  return value
    .replace(RUBY_STRIP, '')
    .replace(/[<>"']/g, '')
    .replace(/\\n|\\r|\\t/g, ' ')
    .replace(/[\n\r\t]/g, ' ')
    .replace(/[ \t\r\n\f\v]{4,}/g, '   ');
}

/**
 * Fills a template's variables. Returns the rendered text and Chatwoot's `template_params` (processed_params holds
 * only the components that have variables), or every missing, invalid or unknown value at once.
 */
export function fillTemplate(template: WhatsAppTemplate, values: Readonly<Record<string, string>>): FillTemplateResult {
  const problems: TemplateProblem[] = [];
  const adjustments: TemplateProblem[] = [];
  const known = new Set(template.variables.map((variable) => variable.key));
  for (const key of Object.keys(values)) {
    if (known.has(key) || isBlank(values[key])) continue;
    problems.push({
      key,
      label: key,
      message:
        template.variables.length === 0
          ? `Template ${template.name} takes no values, but "${key}" was given.`
          : `Template ${template.name} has no value called "${key}": its values are ${template.variables.map((v) => v.key).join(', ')}.`,
    });
  }

  const bodyValues: Record<string, string> = {};
  const headerValues: Record<string, string> = {};
  const buttons: Array<{ type: 'url' | 'copy_code'; parameter: string } | null> = [];
  let mediaUrl: string | undefined;
  let mediaName: string | undefined;

  for (const variable of template.variables) {
    const { key, label } = variable;
    const raw = values[key];
    const problem = (message: string) => problems.push({ key, label, message });
    if (raw === undefined || isBlank(raw)) {
      if (variable.optional !== true) {
        const hint = variable.example === undefined ? '' : ` (for example "${variable.example}")`;
        problem(`${label} is missing: fill it in${hint}.`);
      }
      continue;
    }
    const value = raw.trim();

    if (key === HEADER_MEDIA_URL) {
      let url: URL | undefined;
      try {
        url = new URL(value);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
        problem(`${label} must be a web address starting with https:// (got "${value}").`);
      } else if (value.length > MEDIA_URL_MAX_LENGTH) {
        problem(`${label} is ${value.length} characters long; Chatwoot accepts up to ${MEDIA_URL_MAX_LENGTH}.`);
      } else {
        mediaUrl = value;
      }
      continue;
    }
    if (key === HEADER_MEDIA_NAME) {
      mediaName = value;
      continue;
    }

    if (variable.component === 'button') {
      if (variable.maxLength !== undefined && [...value].length > variable.maxLength) {
        problem(`${label} is ${[...value].length} characters long; WhatsApp allows up to ${variable.maxLength}.`);
        continue;
      }
      const type = variable.maxLength === undefined ? 'url' : 'copy_code';
      buttons[variable.buttonIndex ?? 0] = { type, parameter: value };
      continue;
    }

    const sent = chatwootText(raw);
    if (sent === '') {
      problem(`${label} has only characters Chatwoot removes (< > " ' and line breaks): write it differently.`);
      continue;
    }
    if ([...sent].length > TEXT_VALUE_MAX_LENGTH) {
      problem(`${label} is ${[...sent].length} characters long; Chatwoot sends at most ${TEXT_VALUE_MAX_LENGTH}.`);
      continue;
    }
    if (sent !== value) {
      adjustments.push({
        key,
        label,
        message: `${label}: Chatwoot removes < > " ' and line breaks from template values, so the customer sees "${sent}".`,
      });
    }
    if (variable.component === 'header') headerValues[key.slice('header_'.length)] = sent;
    else bodyValues[key] = sent;
  }

  if (problems.length > 0) return { ok: false, problems };

  const processed: Record<string, unknown> = {};
  if (Object.keys(bodyValues).length > 0) processed['body'] = bodyValues;
  if (mediaUrl !== undefined) {
    const media_type = (template.header?.format ?? '').toLowerCase();
    processed['header'] = {
      media_url: mediaUrl,
      media_type,
      ...(mediaName === undefined ? {} : { media_name: mediaName }),
    };
  } else if (Object.keys(headerValues).length > 0) processed['header'] = headerValues;
  if (buttons.length > 0) processed['buttons'] = Array.from(buttons, (button) => button ?? null);

  const rendered = [
    template.header?.text === undefined ? '' : substitute(template.header.text, headerValues),
    substitute(template.body, bodyValues),
    template.footer ?? '',
  ]
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join('\n\n');

  return {
    ok: true,
    rendered,
    templateParams: {
      name: template.name,
      language: template.language,
      ...(template.category === undefined ? {} : { category: template.category }),
      ...(template.namespace === undefined ? {} : { namespace: template.namespace }),
      processed_params: processed,
    },
    adjustments,
  };
}

const DESCRIPTION_BODY_LENGTH = 80;

/** One line for lists: 'order_update (en_US, UTILITY): Hi {{1}}, your order {{2}}…' */
export function describeTemplate(template: WhatsAppTemplate): string {
  const body = template.body.replace(/\s+/g, ' ').trim();
  const chars = [...body];
  const short =
    chars.length > DESCRIPTION_BODY_LENGTH
      ? `${chars
          .slice(0, DESCRIPTION_BODY_LENGTH - 1)
          .join('')
          .trimEnd()}…`
      : body;
  const about = template.category === undefined ? template.language : `${template.language}, ${template.category}`;
  return `${template.name} (${about}): ${short}`;
}

/** The send's content for a filled template: Chatwoot's `template_params` pieces and the rendered text. */
export function templateContent(filled: { readonly rendered: string; readonly templateParams: TemplateParams }): {
  kind: 'template';
  name: string;
  language: string;
  category?: string;
  namespace?: string;
  parameters: Record<string, unknown>;
  rendered: string;
} {
  const params = filled.templateParams;
  return {
    kind: 'template',
    name: params.name,
    language: params.language,
    ...(params.category === undefined ? {} : { category: params.category }),
    ...(params.namespace === undefined ? {} : { namespace: params.namespace }),
    parameters: params.processed_params,
    rendered: filled.rendered,
  };
}
