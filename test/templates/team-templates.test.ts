import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  escapeMrkdwn,
  fillTeamTemplate,
  loadTeamTemplates,
  parseTeamTemplates,
  type TeamTemplate,
} from '../../src/templates/team-templates.ts';

const FILE = 'templates.yml';

function lines(...rows: string[]): string {
  return `${rows.join('\n')}\n`;
}

function problemsOf(source: string): string[] {
  const result = parseTeamTemplates(source, FILE);
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

describe('parseTeamTemplates', () => {
  it('reads snippets with their variables in order of first appearance', () => {
    const result = parseTeamTemplates(
      lines(
        '# comment',
        'templates:',
        '  - name: order-shipped',
        '    description: Tell the customer their order left the warehouse',
        '    text: |',
        '      Hi {{name}}, your order *{{order}}* has shipped :package:',
        '      Track it here: {{ tracking_url }} ({{order}})',
        '  - name: thanks_2',
        '    text: Thank you!',
      ),
      FILE,
    );
    expect(result).toEqual({
      ok: true,
      templates: [
        {
          name: 'order-shipped',
          description: 'Tell the customer their order left the warehouse',
          text: 'Hi {{name}}, your order *{{order}}* has shipped :package:\nTrack it here: {{ tracking_url }} ({{order}})\n',
          variables: ['name', 'order', 'tracking_url'],
        },
        { name: 'thanks_2', text: 'Thank you!', variables: [] },
      ],
    });
  });

  it('accepts an empty list', () => {
    expect(parseTeamTemplates('templates: []\n', FILE)).toEqual({ ok: true, templates: [] });
  });

  it('reports YAML syntax errors with line and column', () => {
    const problems = problemsOf(lines('templates:', '  - name: a', '    text: "unclosed', '  - name: b'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^templates\.yml:5:1: Missing closing "quote \(YAML syntax: check the indentation and quotes there\)\.$/,
    );
  });

  it('reports duplicate keys as YAML errors', () => {
    expect(problemsOf(lines('templates:', '  - name: a', '    name: b', '    text: x'))).toEqual([
      'templates.yml:3:5: Map keys must be unique (YAML syntax: check the indentation and quotes there).',
    ]);
  });

  it('reports an empty file and a file without the templates list', () => {
    expect(problemsOf('# nothing yet\n')).toEqual([
      'templates.yml: the file is empty: it needs a "templates:" list of snippets (see templates.example.yml).',
    ]);
    expect(problemsOf(lines('- name: a', '  text: b'))).toEqual([
      'templates.yml:1: The file must start with "templates:" followed by the list of snippets (see templates.example.yml).',
    ]);
    expect(problemsOf(lines('snippets:', '  - name: a'))).toEqual([
      'templates.yml:1: templates is missing: the file needs a "templates:" list (see templates.example.yml).',
      'templates.yml:1: The file has an unknown key "snippets": the keys are "templates" (check the spelling and the indentation).',
    ]);
    expect(problemsOf(lines('templates:', '  name: a'))).toEqual([
      'templates.yml:2: templates must be a list, not a map.',
    ]);
  });

  it('reports every problem at once, each with its line', () => {
    const problems = problemsOf(
      lines(
        'templates:', // 1
        '  - name: order-shipped', // 2
        '    text: Hi {{name}}', // 3
        '  - description: no name here', // 4
        '    text: Hello', // 5
        '  - name: Order Shipped', // 6
        '    text: x', // 7
        '  - name: ORDER-SHIPPED', // 8
        '    text: y', // 9
        '  - name: empty', // 10
        '    text: "   "', // 11
        '  - name: 404', // 12
        '    text: Not found', // 13
        '  - name: typo', // 14
        '    txt: Hello', // 15
        '    text: Hello', // 16
        '  - name: order-shipped', // 17
        '    text: |', // 18
        '      Hi {{name}},', // 19
        '      your {{order number}} is {{status', // 20
        '  - name: no-text', // 21
      ),
    );
    expect(problems).toEqual([
      'templates.yml:4: templates[1].name is missing: give every snippet a name, like order-shipped.',
      'templates.yml:6: templates[2].name "Order Shipped" cannot be used: a name is typed in Slack commands, so use ' +
        'lower-case letters, digits, "-" and "_" (up to 64, starting with a letter or digit), like order-shipped.',
      'templates.yml:8: templates[3].name "ORDER-SHIPPED" cannot be used: a name is typed in Slack commands, so use ' +
        'lower-case letters, digits, "-" and "_" (up to 64, starting with a letter or digit), like order-shipped.',
      'templates.yml:8: templates[3].name "ORDER-SHIPPED" is already used by templates[0] (line 2): names must differ, ignoring case.',
      'templates.yml:11: templates[4].text is empty: write the message the snippet sends.',
      'templates.yml:12: templates[5].name must be text (put it in quotes), not 404.',
      'templates.yml:15: templates[6] has an unknown key "txt": the keys are "name", "description", "text" (check the spelling and the indentation).',
      'templates.yml:17: templates[7].name "order-shipped" is already used by templates[0] (line 2): names must differ, ignoring case.',
      'templates.yml:20: templates[7].text has the placeholder {{order number}}, which is not a variable name: use ' +
        'letters, digits and "_", starting with a letter or "_", like {{first_name}}.',
      'templates.yml:20: templates[7].text has a "{{" without its closing "}}": write placeholders like {{name}}.',
      'templates.yml:21: templates[8].text is missing: write the message the snippet sends.',
    ]);
  });

  it('rejects names longer than 64 characters', () => {
    expect(problemsOf(lines('templates:', `  - name: ${'a'.repeat(65)}`, '    text: x'))).toHaveLength(1);
    expect(parseTeamTemplates(lines('templates:', `  - name: ${'a'.repeat(64)}`, '    text: x'), FILE).ok).toBe(true);
  });

  it('reads the example file that ships with the project', async () => {
    const result = await loadTeamTemplates(join(import.meta.dirname, '../../templates.example.yml'));
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.templates.map((t) => t.name)).toEqual([
      'order-shipped',
      'appointment-reminder',
      'payment-received',
      'follow-up',
    ]);
    expect(result.templates[0]?.variables).toEqual(['name', 'order', 'tracking_url']);
    for (const template of result.templates) expect(template.description).toBeDefined();
  });
});

describe('loadTeamTemplates', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'team-templates-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the path and the example file when the file is missing', async () => {
    const path = join(dir, 'missing.yml');
    expect(await loadTeamTemplates(path)).toEqual({
      ok: false,
      problems: [
        `${path}: the templates file does not exist. Copy templates.example.yml (it ships with the bridge) to ${path} ` +
          'and edit it, or point the templates path setting at your file.',
      ],
    });
  });

  it('prefixes problems with the path', async () => {
    const path = join(dir, 'bad.yml');
    await writeFile(path, lines('templates:', '  - name: a'));
    expect(await loadTeamTemplates(path)).toEqual({
      ok: false,
      problems: [`${path}:2: templates[0].text is missing: write the message the snippet sends.`],
    });
  });

  it('says when the path is not a readable file', async () => {
    const result = await loadTeamTemplates(dir);
    expect(result).toEqual({
      ok: false,
      problems: [`${dir}: the templates file could not be read (EISDIR): check the path and its permissions.`],
    });
  });
});

describe('fillTeamTemplate', () => {
  const shipped: TeamTemplate = {
    name: 'order-shipped',
    text: 'Hi {{name}}, your order *{{order}}* has shipped.\nTrack it: {{ tracking_url }} ({{order}})',
    variables: ['name', 'order', 'tracking_url'],
  };

  it('fills every placeholder, repeated ones included', () => {
    expect(fillTeamTemplate(shipped, { name: 'Jane', order: '4411', tracking_url: 'https://t.example/AB' })).toEqual({
      ok: true,
      text: 'Hi Jane, your order *4411* has shipped.\nTrack it: https://t.example/AB (4411)',
    });
  });

  it('escapes values for Slack mrkdwn so they never become mentions or links', () => {
    const result = fillTeamTemplate(shipped, {
      name: 'Tom & <!channel> <@U123>',
      order: '<https://x|y>',
      tracking_url: 'a>b',
    });
    expect(result).toEqual({
      ok: true,
      text:
        'Hi Tom &amp; &lt;!channel&gt; &lt;@U123&gt;, your order *&lt;https://x|y&gt;* has shipped.\n' +
        'Track it: a&gt;b (&lt;https://x|y&gt;)',
    });
    expect(escapeMrkdwn('&amp;')).toBe('&amp;amp;');
  });

  it('names every missing and unknown value', () => {
    expect(fillTeamTemplate(shipped, { name: 'Jane', order: ' ', colour: 'red' })).toEqual({
      ok: false,
      problems: [
        { key: 'order', message: 'order is missing: fill it in.' },
        { key: 'tracking_url', message: 'tracking_url is missing: fill it in.' },
        {
          key: 'colour',
          message:
            'Snippet order-shipped has no placeholder {{colour}}: its placeholders are name, order, tracking_url.',
        },
      ],
    });
    expect(fillTeamTemplate({ name: 'hi', text: 'Hi!', variables: [] }, {})).toEqual({ ok: true, text: 'Hi!' });
  });
});
