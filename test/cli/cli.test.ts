import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { type FakeChatwoot, startFakeChatwoot } from '../fakes/fake-chatwoot.ts';

let fake: FakeChatwoot | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function chatwoot() {
  fake = await startFakeChatwoot();
  const inbox = fake.addInbox({
    name: 'WhatsApp Support',
    channelType: 'Channel::Whatsapp',
    provider: 'whatsapp_cloud',
    phoneNumber: '+14155550100',
  });
  const contact = fake.addContact({ name: 'Jane Doe', phoneNumber: '+14155550123', email: 'jane@example.com' });
  const conversation = fake.addConversation({ inboxId: inbox.id, contactId: contact.id });
  fake.addIncomingMessage(conversation.id, { content: 'Where is my order?', at: Date.now() - 60_000 });
  return { fake, inbox, conversationId: conversation.id };
}

async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env: {
      CHATWOOT_BASE_URL: fake?.url ?? 'http://127.0.0.1:9',
      CHATWOOT_API_ACCESS_TOKEN: fake?.user.token ?? 'token',
      STORE_URL: 'memory://',
      ...env,
    },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    clock: systemClock,
  });
  return { code, stdout, stderr };
}

describe('send', () => {
  test('sends and waits until WhatsApp took it, telling each step', async () => {
    const { conversationId } = await chatwoot();
    const result = await run(['send', String(conversationId), 'Your order *4411* has shipped']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stderr).toContain('Queued for conversation #1.');
    expect(result.stdout).toMatch(
      /^(Sent: WhatsApp took message \d+ for|Delivered to) Jane Doe \(\+1 •••• ••0123\) in conversation #1\.\n$/,
    );
    expect(fake?.messages(conversationId).at(-1)?.content).toBe('Your order **4411** has shipped');
  });

  test('reads the phone number as people write it and reports in JSON', async () => {
    const { conversationId } = await chatwoot();
    const result = await run(['send', '+1', '(415)', '555-0123', 'Hello', 'there', '--json', '--wait', 'accepted']);
    expect(result.code).toBe(EXIT.ok);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      state: expect.stringMatching(/accepted|sent|delivered/),
      conversationId,
      timedOut: false,
    });
    expect(fake?.messages(conversationId).at(-1)?.content).toBe('Hello there');
  });

  test('never sends twice when rerun with the same --key, even in a new process', async () => {
    const { conversationId } = await chatwoot();
    expect((await run(['send', String(conversationId), 'Once only', '--key', 'order-4411'])).code).toBe(EXIT.ok);
    const again = await run(['send', String(conversationId), 'Once only', '--key', 'order-4411']);
    expect(again.code).toBe(EXIT.ok);
    expect(fake?.messages(conversationId).filter((message) => message.content === 'Once only')).toHaveLength(1);
  });

  test.each([
    ['no text', ['send', '57'], EXIT.usage, /Usage: send <conversation> <text>/],
    [
      'a name instead of a conversation',
      ['send', 'jane', 'hello'],
      EXIT.usage,
      /\/whatsapp send <conversation> <text>/,
    ],
    ['a bad --wait', ['send', '57', 'hi', '--wait', 'maybe'], EXIT.usage, /--wait must be "accepted" or "sent"/],
    ['an unknown option', ['send', '57', 'hi', '--loud'], EXIT.usage, /Unknown option '--loud'/],
  ])('answers %s with the usage and exit 2', async (_name, argv, code, message) => {
    await chatwoot();
    const result = await run(argv);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
  });

  test('says so when it reopened a resolved conversation to write into it', async () => {
    const { fake: server, conversationId } = await chatwoot();
    await fetch(`${server.url}/api/v1/accounts/1/conversations/${conversationId}/toggle_status`, {
      method: 'POST',
      headers: { api_access_token: server.user.token, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'resolved' }),
    });
    const result = await run(['send', '+14155550123', 'Back again']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain(
      'The conversation was resolved; the bridge reopened it so the answer comes back there.',
    );
    expect(server.conversation(conversationId)?.status).toBe('open');
  });

  test('exits 6 for a number with no WhatsApp conversation', async () => {
    await chatwoot();
    const result = await run(['send', '+44 20 7946 0958', 'Hello']);
    expect(result.code).toBe(EXIT.notFound);
    expect(result.stderr).toMatch(/No WhatsApp conversation with \+44 •••• ••0958/);
  });

  test('exits 7 when the 24-hour window is closed, saying a template is needed', async () => {
    const { fake: server } = await chatwoot();
    const contact = server.addContact({ name: 'Old customer', phoneNumber: '+14155550199' });
    const old = server.addConversation({ inboxId: 1, contactId: contact.id });
    server.addIncomingMessage(old.id, { content: 'hi', at: Date.now() - 30 * 60 * 60_000 });
    const result = await run(['send', String(old.id), 'Hello']);
    expect(result.code).toBe(EXIT.refused);
    expect(result.stderr).toMatch(/24-hour window is closed.*template/s);
  });

  test('exits 9 with a safe-retry key when Chatwoot cannot be reached in time', async () => {
    await chatwoot();
    await fake?.down();
    const result = await run(['send', '57', 'Hello', '--timeout', '1']);
    expect(result.code).toBe(EXIT.timeout);
    expect(result.stderr).toMatch(
      /Not confirmed within 1 s \(Waiting: Chatwoot cannot be reached.*run the same command with --key [0-9a-f-]{36}/s,
    );
  });
});

describe('find', () => {
  test('lists matching contacts with masked numbers and their WhatsApp conversations', async () => {
    const { conversationId } = await chatwoot();
    const result = await run(['find', '+1 415 555 0123']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toBe(
      `Jane Doe  +1 •••• ••0123  jane@example.com\n    #${conversationId}  open      window open    WhatsApp Support\n`,
    );
  });

  test('exits 6 when nothing matches', async () => {
    await chatwoot();
    const result = await run(['find', 'nobody']);
    expect(result.code).toBe(EXIT.notFound);
    expect(result.stderr).toContain('No contact matches "nobody".');
  });
});

describe('check', () => {
  test('reports each check and exits 0 when everything is in order', async () => {
    await chatwoot();
    const result = await run(['check']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout.split('\n').filter(Boolean)).toEqual([
      '✓ Configuration: all variables valid',
      `✓ Chatwoot reachable: ${fake?.url} answers, version 4.15.1`,
      '✓ Token and account: token of Slack Bridge (administrator) in account 1 "Acme"',
      '✓ WhatsApp inbox: inbox 1 "WhatsApp Support" (+14155550100), WhatsApp Cloud API',
      '✓ Team templates: none (templates.yml not found; optional)',
      '✓ WhatsApp templates: no approved template in the inbox: only customers who wrote in the last 24 hours can be messaged',
      '✓ Store: memory:// is usable',
      '✓ Delivery updates: by polling Chatwoot (no CHATWOOT_WEBHOOK_SECRET): statuses within about a minute; set up the webhook for instant updates and answers in threads',
    ]);
  });

  test('checks the team templates file with the line of each problem, and lists the approved templates', async () => {
    const { inbox } = await chatwoot();
    fake?.setTemplates(inbox.id, [
      { name: 'order_update', language: 'en_US', status: 'APPROVED', components: [{ type: 'BODY', text: 'Hi {{1}}' }] },
      { name: 'draft', language: 'en_US', status: 'PENDING', components: [{ type: 'BODY', text: 'Hi' }] },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'bridge-templates-'));
    const file = join(dir, 'templates.yml');
    writeFileSync(file, 'templates:\n  - name: ok\n    text: Hello {{name}}\n  - name: Bad Name\n    text: Hi\n');
    const bad = await run(['check'], { TEMPLATES_FILE: file });
    expect(bad.code).toBe(EXIT.config);
    expect(bad.stdout).toMatch(new RegExp(`✗ Team templates: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: `));
    writeFileSync(file, 'templates:\n  - name: ok\n    text: Hello {{name}}\n');
    const good = await run(['check'], { TEMPLATES_FILE: file });
    expect(good.code).toBe(EXIT.ok);
    expect(good.stdout).toContain(`✓ Team templates: 1 in ${file}`);
    expect(good.stdout).toContain('✓ WhatsApp templates: 1 approved (order_update/en_US)');
    rmSync(dir, { recursive: true, force: true });
  });

  test('exits 5 with advice when the token is wrong', async () => {
    await chatwoot();
    const result = await run(['check'], { CHATWOOT_API_ACCESS_TOKEN: 'not-the-token' });
    expect(result.code).toBe(EXIT.unauthorized);
    expect(result.stdout).toMatch(/✗ Token and account: .*Profile settings → Access token/);
  });

  test('exits 5 when the token is not in the configured account', async () => {
    await chatwoot();
    const result = await run(['check'], { CHATWOOT_ACCOUNT_ID: '2' });
    expect(result.code).toBe(EXIT.unauthorized);
    expect(result.stdout).toMatch(/not a member of account 2 \(their accounts: 1 "Acme"\)/);
  });

  test('exits 4 when Chatwoot cannot be reached', async () => {
    await chatwoot();
    await fake?.down();
    const result = await run(['check']);
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stdout).toMatch(/✗ Chatwoot reachable: Could not reach Chatwoot \(ECONNREFUSED\)/);
  });
});

describe('configuration and usage', () => {
  test('reports every configuration problem at once and exits 3', async () => {
    let stderr = '';
    const code = await runCli(['check'], {
      env: { CHATWOOT_ACCOUNT_ID: 'one' },
      stdout: { write: () => true },
      stderr: { write: (text: string) => (stderr += text) },
      clock: systemClock,
    });
    expect(code).toBe(EXIT.config);
    expect(stderr).toMatch(/^The configuration has 3 problems/);
  });

  test('prints the usage for --help and exits 0, or exits 2 for an unknown command', async () => {
    expect((await run(['--help'])).stdout).toContain('Usage: slack-whatsapp-bridge <command> [options]');
    expect((await run(['--help'])).code).toBe(EXIT.ok);
    expect((await run(['deploy'])).code).toBe(EXIT.usage);
  });
});
