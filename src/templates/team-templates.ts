import { readFile } from 'node:fs/promises';
import { type Document, isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { escapeMrkdwn } from '../compose/slack-escape.ts';

/**
 * The team's text snippets (templates.yml): named texts in Slack mrkdwn with `{{variable}}` placeholders, for
 * messages inside WhatsApp's 24-hour window. Filled in Slack, then sent like anything typed there.
 */
export interface TeamTemplate {
  readonly name: string;
  readonly description?: string;
  /** Slack mrkdwn. */
  readonly text: string;
  /** Placeholder names in order of first appearance. */
  readonly variables: readonly string[];
}

export type TeamTemplatesResult =
  | { readonly ok: true; readonly templates: TeamTemplate[] }
  | { readonly ok: false; readonly problems: string[] };

export type FillTeamTemplateResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly problems: Array<{ key: string; message: string }> };

export const EXAMPLE_FILE = 'templates.example.yml';

/** Typed in Slack commands: short, lower case, no spaces. */
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VARIABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const KEYS = ['name', 'description', 'text'] as const;

const teamTemplateSchema = z.strictObject({
  name: z.string().superRefine((name, ctx) => {
    if (!NAME_PATTERN.test(name)) {
      ctx.addIssue({
        code: 'custom',
        message:
          `"${name}" cannot be used: a name is typed in Slack commands, so use lower-case letters, digits, "-" and "_" ` +
          '(up to 64, starting with a letter or digit), like order-shipped.',
      });
    }
  }),
  description: z.string().optional(),
  text: z.string().superRefine((text, ctx) => {
    if (text.trim() === '') {
      ctx.addIssue({ code: 'custom', message: 'is empty: write the message the snippet sends.' });
      return;
    }
    for (const match of text.matchAll(PLACEHOLDER)) {
      const inner = (match[1] ?? '').trim();
      if (!VARIABLE_PATTERN.test(inner)) {
        ctx.addIssue({
          code: 'custom',
          message:
            `has the placeholder ${match[0]}, which is not a variable name: use letters, digits and "_", ` +
            'starting with a letter or "_", like {{first_name}}.',
          params: { at: match.index },
        });
      }
    }
    const unclosed = indexOfUnclosed(text);
    if (unclosed !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'has a "{{" without its closing "}}": write placeholders like {{name}}.',
        params: { at: unclosed },
      });
    }
  }),
});

const fileSchema = z.strictObject({ templates: z.array(teamTemplateSchema) });

/** Where in `text` the first "{{" that opens no placeholder is. */
function indexOfUnclosed(text: string): number | undefined {
  let from = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const before = text.slice(from, match.index).indexOf('{{');
    if (before >= 0) return from + before;
    from = match.index + match[0].length;
  }
  const rest = text.slice(from).indexOf('{{');
  return rest >= 0 ? from + rest : undefined;
}

/** Placeholder names in order of first appearance (valid ones only). */
function variablesOf(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = (match[1] ?? '').trim();
    if (VARIABLE_PATTERN.test(name) && !names.includes(name)) names.push(name);
  }
  return names;
}

type Path = ReadonlyArray<PropertyKey>;

function pathText(path: Path): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

function describeValue(value: unknown): string {
  if (value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `"${value}"`;
  return String(value);
}

const EXPECTED: Record<string, string> = { string: 'text', array: 'a list', object: 'a map of keys' };

const HINTS: Record<string, string> = {
  templates: `the file needs a "templates:" list (see ${EXAMPLE_FILE}).`,
  name: 'give every snippet a name, like order-shipped.',
  text: 'write the message the snippet sends.',
};

interface Located {
  readonly line: number | undefined;
  readonly message: string;
}

/**
 * Parses and checks a templates file. Reports every problem at once, each as `fileName:line: what is wrong: what
 * to do`; YAML syntax errors come alone (with line:column), as the rest cannot be trusted then.
 */
export function parseTeamTemplates(source: string, fileName: string): TeamTemplatesResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source.replace(/^\uFEFF/, ''), { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return `${fileName}:${line}:${col}: ${error.message} (YAML syntax: check the indentation and quotes there).`;
      }),
    };
  }
  if (doc.contents === null) {
    return {
      ok: false,
      problems: [`${fileName}: the file is empty: it needs a "templates:" list of snippets (see ${EXAMPLE_FILE}).`],
    };
  }

  const data: unknown = doc.toJS();
  const located: Located[] = [];
  const at = (path: Path, message: string, offset?: number): void => {
    located.push({ line: offset === undefined ? nodeLine(doc, path, lineOf) : lineOf(offset), message });
  };

  const parsed = fileSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const subject = issue.path.length === 0 ? 'The file' : pathText(issue.path);
      switch (issue.code) {
        case 'invalid_type': {
          const field = String(issue.path.at(-1) ?? '');
          if (issue.input === undefined) {
            at(issue.path, `${subject} is missing: ${HINTS[field] ?? 'add it.'}`);
          } else if (issue.path.length === 0) {
            at(
              issue.path,
              `The file must start with "templates:" followed by the list of snippets (see ${EXAMPLE_FILE}).`,
            );
          } else {
            const expected = EXPECTED[issue.expected] ?? issue.expected;
            const quote = issue.expected === 'string' ? ' (put it in quotes)' : '';
            at(issue.path, `${subject} must be ${expected}${quote}, not ${describeValue(issue.input)}.`);
          }
          break;
        }
        case 'unrecognized_keys': {
          const allowed = issue.path.length === 0 ? '"templates"' : KEYS.map((key) => `"${key}"`).join(', ');
          for (const key of issue.keys) {
            at(
              issue.path,
              `${subject} has an unknown key "${key}": the keys are ${allowed}` +
                ` (check the spelling and the indentation).`,
              keyOffset(doc, issue.path, key),
            );
          }
          break;
        }
        case 'custom': {
          const params: unknown = issue.params;
          const offset =
            typeof params === 'object' && params !== null && 'at' in params && typeof params.at === 'number'
              ? literalOffset(doc, issue.path, params.at, source)
              : undefined;
          at(issue.path, `${subject} ${issue.message}`, offset);
          break;
        }
        default:
          at(issue.path, `${subject}: ${issue.message}.`);
      }
    }
  }

  // Duplicates are checked on whatever parsed, so they are reported alongside every other problem.
  const list = isRecordWith(data, 'templates') && Array.isArray(data.templates) ? data.templates : [];
  const seen = new Map<string, number>();
  list.forEach((entry: unknown, index) => {
    if (!isRecordWith(entry, 'name') || typeof entry.name !== 'string') return;
    const key = entry.name.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, index);
      return;
    }
    const firstLine = nodeLine(doc, ['templates', first, 'name'], lineOf);
    at(
      ['templates', index, 'name'],
      `templates[${index}].name "${entry.name}" is already used by templates[${first}]` +
        `${firstLine === undefined ? '' : ` (line ${firstLine})`}: names must differ, ignoring case.`,
    );
  });

  if (located.length > 0) {
    const problems = located
      .map((problem, index) => ({ ...problem, index }))
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.index - b.index)
      .map(({ line, message }) => `${fileName}${line === undefined ? '' : `:${line}`}: ${message}`);
    return { ok: false, problems };
  }
  if (!parsed.success) return { ok: false, problems: [`${fileName}: the file could not be read as templates.`] };

  return {
    ok: true,
    templates: parsed.data.templates.map((template) => ({
      name: template.name,
      ...(template.description === undefined ? {} : { description: template.description }),
      text: template.text,
      variables: variablesOf(template.text),
    })),
  };
}

function isRecordWith<K extends string>(value: unknown, key: K): value is Record<K, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && key in value;
}

/** The line of the node at `path`, or of its nearest existing parent (for a missing key: the entry lacking it). */
function nodeLine(
  doc: Document,
  path: Path,
  lineOf: (offset: number | undefined) => number | undefined,
): number | undefined {
  for (let length = path.length; length >= 0; length -= 1) {
    const node: unknown = length === 0 ? doc.contents : doc.getIn(path.slice(0, length), true);
    const range = rangeOf(node);
    if (range !== undefined) return lineOf(range[0]);
  }
  return undefined;
}

function rangeOf(node: unknown): readonly [number, number, number] | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range: unknown = node.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? (range as [number, number, number]) : undefined;
}

/** Where an unknown key is written. */
function keyOffset(doc: Document, path: Path, key: string): number | undefined {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
  return pair !== undefined && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
}

/**
 * The source offset of character `index` of a literal block scalar (`text: |`), whose lines map one to one to the
 * file's; other scalar styles fold lines, so their problems point at where they start.
 */
function literalOffset(doc: Document, path: Path, index: number, source: string): number | undefined {
  const node = doc.getIn(path, true);
  if (!isScalar(node) || node.type !== 'BLOCK_LITERAL' || node.range === undefined || node.range === null) {
    return undefined;
  }
  const value = String(node.value);
  const linesBefore = value.slice(0, index).split('\n').length - 1;
  // The content starts on the line after the `|` indicator.
  let offset = source.indexOf('\n', node.range[0]);
  for (let line = 0; line < linesBefore && offset >= 0; line += 1) offset = source.indexOf('\n', offset + 1);
  return offset < 0 ? undefined : offset + 1;
}

/** Reads and checks the templates file at `path`. */
export async function loadTeamTemplates(path: string): Promise<TeamTemplatesResult> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
    if (code === 'ENOENT') {
      return {
        ok: false,
        problems: [
          `${path}: the templates file does not exist. Copy ${EXAMPLE_FILE} (it ships with the bridge) to ${path} and ` +
            'edit it, or point the templates path setting at your file.',
        ],
      };
    }
    return {
      ok: false,
      problems: [
        `${path}: the templates file could not be read (${code ?? (error instanceof Error ? error.message : String(error))}): check the path and its permissions.`,
      ],
    };
  }
  return parseTeamTemplates(source, path);
}

export { escapeMrkdwn };

/** Fills every placeholder with its value (escaped for Slack mrkdwn), or names every missing or unknown value. */
export function fillTeamTemplate(
  template: TeamTemplate,
  values: Readonly<Record<string, string>>,
): FillTeamTemplateResult {
  const problems: Array<{ key: string; message: string }> = [];
  for (const variable of template.variables) {
    if ((values[variable] ?? '').trim() === '') {
      problems.push({ key: variable, message: `${variable} is missing: fill it in.` });
    }
  }
  for (const [key, value] of Object.entries(values)) {
    if (template.variables.includes(key) || value.trim() === '') continue;
    problems.push({
      key,
      message:
        template.variables.length === 0
          ? `Snippet ${template.name} has no placeholders, but "${key}" was given.`
          : `Snippet ${template.name} has no placeholder {{${key}}}: its placeholders are ${template.variables.join(', ')}.`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const text = template.text.replace(PLACEHOLDER, (whole, inner: string) => {
    const value = values[inner.trim()];
    return value === undefined ? whole : escapeMrkdwn(value.trim());
  });
  return { ok: true, text };
}
