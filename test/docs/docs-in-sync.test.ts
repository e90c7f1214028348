import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { renderConfigTable, renderEnvExample } from '../../scripts/render-docs.ts';
import { variables } from '../../src/config/variables.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test('the README configuration table lists every variable the code reads (run npm run docs to update it)', () => {
  expect(read('README.md')).toContain(renderConfigTable());
});

test('.env.example lists every variable the code reads (run npm run docs to update it)', () => {
  const example = read('.env.example');
  expect(example).toBe(renderEnvExample());
  for (const variable of variables) expect(example).toMatch(new RegExp(`^#? ?${variable.name}=`, 'm'));
});

test('the README starts with the two set-up commands: install and run, then the tests', () => {
  const commands =
    read('README.md')
      .match(/```sh\n([^`]+)```/)?.[1]
      ?.trim()
      .split('\n') ?? [];
  expect(commands.map((line) => line.split('#')[0]?.trim())).toEqual(['npm ci && npm start', 'npm test']);
});
