import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { appHarnesses, eventually } from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const dir = mkdtempSync(join(tmpdir(), 'templates-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the team templates file at startup', () => {
  test('TEMPLATES_FILE naming a file that does not exist: exit 3, naming the path and the example file', async () => {
    const missing = join(dir, 'nope', 'templates.yml');
    const h = await start({ env: { TEMPLATES_FILE: missing } });
    expect(await h.exited).toBe(3);
    const err = h.stderr();
    expect(err).toContain(missing);
    expect(err).toContain('templates.example.yml');
    expect(err).toContain('TEMPLATES_FILE');
  });

  test('an invalid file: exit 3, every problem as file:line: what is wrong', async () => {
    const file = join(dir, 'invalid.yml');
    writeFileSync(
      file,
      [
        'templates:', // 1
        '  - name: Order Shipped', // 2: not a usable name
        '    text: "Hi {{ first name }}"', // 3: not a variable name
        '  - name: reminder', // 4
        '    txt: See you soon', // 5: unknown key (and no text)
        '  - name: order-shipped', // 6
        '    text: Hello {{name', // 7: unclosed placeholder
        '',
      ].join('\n'),
    );
    const h = await start({ env: { TEMPLATES_FILE: file } });
    expect(await h.exited).toBe(3);
    const err = h.stderr();
    expect(err).toMatch(new RegExp(`${literal(file)}:2: .*"Order Shipped"`));
    expect(err).toMatch(new RegExp(`${literal(file)}:3: .*\\{\\{ first name \\}\\}`));
    expect(err).toMatch(new RegExp(`${literal(file)}:5: .*"txt"`));
    expect(err).toMatch(new RegExp(`${literal(file)}:7: .*"\\{\\{"`));
    expect(err).toMatch(/text is missing|\.text/);
  });

  test('a YAML syntax error: exit 3 with file:line:column', async () => {
    const file = join(dir, 'syntax.yml');
    writeFileSync(file, ['templates:', '  - name: a', '    text: "unclosed', ''].join('\n'));
    const h = await start({ env: { TEMPLATES_FILE: file } });
    expect(await h.exited).toBe(3);
    expect(h.stderr()).toMatch(new RegExp(`${literal(file)}:\\d+:\\d+: `));
  });

  test('the default templates.yml absent: the bridge starts, and says there are no snippets', async () => {
    expect(existsSync('templates.yml')).toBe(false);
    const h = await start();
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    const answer = await h.command('templates');
    const id = answer.fields.response_url.slice(answer.fields.response_url.indexOf('/respond/') + '/respond/'.length);
    const listed = await eventually(() => {
      const body = h.slack.responses(id)[0]?.body;
      return typeof body === 'object' && body !== null && 'text' in body ? String(body.text) : undefined;
    }, 'the list');
    expect(listed).toMatch(/Team snippets/);
    expect(listed).toContain('templates.example.yml');
  });
});

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
