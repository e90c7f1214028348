import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.ts';
import { type FakeChatwoot, startFakeChatwoot } from '../fakes/fake-chatwoot.ts';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
let fake: FakeChatwoot | undefined;
let slack: FakeSlack | undefined;

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await fake?.close();
  fake = undefined;
  await slack?.close();
  slack = undefined;
});

function launch(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  return { child, output: () => output, exited };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  await new Promise((resolveClose) => server.close(resolveClose));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await delay(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function setup() {
  fake = await startFakeChatwoot();
  slack = await startFakeSlack();
  const inbox = fake.addInbox({ name: 'WhatsApp', channelType: 'Channel::Whatsapp', provider: 'whatsapp_cloud' });
  const contact = fake.addContact({ name: 'Jane', phoneNumber: '+14155550123' });
  const conversation = fake.addConversation({ inboxId: inbox.id, contactId: contact.id });
  fake.addIncomingMessage(conversation.id, { content: 'hi', at: Date.now() - 1_000 });
  const dir = mkdtempSync(join(tmpdir(), 'bridge-process-'));
  dirs.push(dir);
  const env = {
    CHATWOOT_BASE_URL: fake.url,
    CHATWOOT_API_ACCESS_TOKEN: fake.user.token,
    STORE_URL: `sqlite://${join(dir, 'bridge.sqlite')}`,
    PORT: String(await freePort()),
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_API_URL: slack.apiUrl,
  };
  return { fake, env, conversationId: conversation.id };
}

describe('the slack-whatsapp-bridge command', () => {
  test('start serves health, refuses a second process on the same store, and stops cleanly on SIGTERM', async () => {
    const { env } = await setup();
    const bridge = launch(['start'], env);
    const ready = await until(
      async () => {
        const response = await fetch(`http://127.0.0.1:${env.PORT}/readyz`);
        return response.ok ? ((await response.json()) as Record<string, unknown>) : undefined;
      },
      10_000,
      'readyz',
    );
    expect(ready).toMatchObject({
      ready: true,
      store: 'ok',
      chatwoot: 'ok',
      chatwootVersion: '4.15.1',
      slack: { mode: 'socket', connected: true },
    });
    expect((await fetch(`http://127.0.0.1:${env.PORT}/healthz`)).status).toBe(200);

    const second = launch(['start'], { ...env, PORT: String(await freePort()) });
    expect(await second.exited).toBe(EXIT.storeInUse);
    expect(second.output()).toMatch(/Running two bridges on one store would send every message twice/);

    bridge.child.kill('SIGTERM');
    expect(await bridge.exited).toBe(EXIT.ok);
    expect(bridge.output()).toContain('"msg":"stopped"');
  }, 30_000);

  test('start refuses a token Chatwoot rejects, saying what to do', async () => {
    const { env } = await setup();
    const run = launch(['start'], { ...env, CHATWOOT_API_ACCESS_TOKEN: 'wrong' });
    expect(await run.exited).toBe(EXIT.unauthorized);
    expect(run.output()).toContain('CHATWOOT_API_ACCESS_TOKEN is not a valid token');
  });

  test('start reports a Slack bot token Slack refuses, without an unhandled rejection', async () => {
    const { env } = await setup();
    const run = launch(['start'], { ...env, SLACK_BOT_TOKEN: 'xoxb-revoked' });
    expect(await run.exited).toBe(EXIT.unauthorized);
    expect(run.output()).toContain('Slack refused SLACK_BOT_TOKEN (invalid_auth)');
    expect(run.output()).not.toMatch(/Unhandled|UnhandledPromiseRejection|at .*node_modules/);
  });

  test('start reports an app-level token Slack refuses (Socket Mode)', async () => {
    const { env } = await setup();
    const run = launch(['start'], { ...env, SLACK_APP_TOKEN: 'xapp-wrong' });
    expect(await run.exited).toBe(EXIT.unauthorized);
    expect(run.output()).toContain('Slack refused SLACK_APP_TOKEN (invalid_auth)');
  });

  test('send exits 0 once WhatsApp took the message', async () => {
    const { env, conversationId } = await setup();
    const run = launch(['send', String(conversationId), 'From', 'the', 'shell'], env);
    expect(await run.exited).toBe(EXIT.ok);
    expect(fake?.messages(conversationId).at(-1)?.content).toBe('From the shell');
  });

  test('reports configuration problems without starting', async () => {
    const run = launch(['start'], {});
    expect(await run.exited).toBe(EXIT.config);
    expect(run.output()).toMatch(/CHATWOOT_BASE_URL is required/);
    expect(run.output()).toMatch(/SLACK_BOT_TOKEN is required to run the Slack app/);
    expect(run.output()).toMatch(/Set SLACK_APP_TOKEN \(Socket Mode/);
  });
});
