import { describe, expect, test } from 'vitest';
import { type Env, formatConfigProblems, loadConfig } from '../../src/config/load-config.ts';

const minimal: Env = {
  CHATWOOT_BASE_URL: 'https://chat.example.com/',
  CHATWOOT_API_ACCESS_TOKEN: 'tok-secret-123',
};

function problemsOf(env: Env): string[] {
  const result = loadConfig(env);
  if (result.ok) throw new Error('expected problems');
  return result.problems.map((problem) => problem.message);
}

describe('loadConfig', () => {
  test('accepts the two required variables and fills in documented defaults', () => {
    const result = loadConfig(minimal);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.chatwoot).toMatchObject({
      baseUrl: 'https://chat.example.com',
      accountId: 1,
      publicUrl: 'https://chat.example.com',
      linkOrigins: ['https://chat.example.com'],
      requestsPerMinute: 240,
      concurrency: 4,
      timeoutMs: 15_000,
      inboxId: undefined,
    });
    expect(result.config.whatsapp).toEqual({ pacingMs: 6_000, pacingBurst: 3 });
    expect(result.config.port).toBe(3000);
    expect(result.config.storeUrl).toBe('sqlite://data/bridge.sqlite');
    expect(result.config.logLevel).toBe('info');
    expect(result.config.slack.apiUrl).toBe('https://slack.com/api/');
  });

  test('treats empty values, as .env files often leave them, as unset', () => {
    const result = loadConfig({ ...minimal, CHATWOOT_INBOX_ID: '', PORT: '  ', SLACK_BOT_TOKEN: '' });
    expect(result.ok).toBe(true);
  });

  test('keeps a base URL path and accepts links from both the public and the internal address', () => {
    const result = loadConfig({
      ...minimal,
      CHATWOOT_BASE_URL: 'http://chatwoot.internal:3000/chatwoot/',
      CHATWOOT_PUBLIC_URL: 'https://support.example.com',
    });
    if (!result.ok) throw new Error('expected ok');
    expect(result.config.chatwoot.baseUrl).toBe('http://chatwoot.internal:3000/chatwoot');
    expect(result.config.chatwoot.publicUrl).toBe('https://support.example.com');
    expect(result.config.chatwoot.linkOrigins).toEqual([
      'https://support.example.com',
      'http://chatwoot.internal:3000',
    ]);
    expect(result.warnings[0]).toMatch(/unencrypted/);
  });

  test('reports every problem at once, each saying what to do', () => {
    const problems = problemsOf({
      CHATWOOT_ACCOUNT_ID: 'abc',
      CHATWOOT_REQUESTS_PER_MINUTE: '0',
      DEFAULT_PHONE_REGION: 'England',
      SLACK_BOT_TOKEN: 'xoxp-user-token',
      SLACK_ALLOWED_USERS: 'U012ABCDEF, jane',
      STORE_URL: 'postgres://db/bridge',
      LOG_LEVEL: 'verbose',
    });
    expect(problems).toHaveLength(9);
    expect(problems.join('\n')).toMatchInlineSnapshot(`
      "CHATWOOT_BASE_URL is required: the address of your Chatwoot server, like https://chat.example.com.
      CHATWOOT_API_ACCESS_TOKEN is required: in Chatwoot open Profile settings and copy the Access token of an agent who is a member of the WhatsApp inbox, or of an administrator.
      CHATWOOT_ACCOUNT_ID must be a whole number from 1 to 9007199254740991 (got "abc"): it is the number after /app/accounts/ in Chatwoot URLs.
      CHATWOOT_REQUESTS_PER_MINUTE must be a whole number from 1 to 100000 (got "0"): keep it below your Chatwoot server's RACK_ATTACK_LIMIT (300 in Chatwoot's example config).
      DEFAULT_PHONE_REGION must be a two-letter country code such as GB, US or BR (got "England").
      SLACK_BOT_TOKEN must start with "xoxb-": copy it from the Slack app page → OAuth & Permissions → Bot User OAuth Token.
      SLACK_ALLOWED_USERS must be a comma-separated list of Slack user ids (got "jane"): copy ids from Slack (profile → ⋮ → Copy member ID; channel details → bottom), not names.
      STORE_URL "postgres://db/bridge" uses an unsupported store "postgres:". Accepted: memory:// (kept in memory, lost on restart), sqlite://data/bridge.sqlite (file relative to the working directory), sqlite:///var/lib/bridge/bridge.sqlite (absolute path), redis://[user:password@]host[:port][/db] or rediss://… (Redis over TLS).
      LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")."
    `);
  });

  test('never repeats a secret in a problem message', () => {
    const problems = problemsOf({
      CHATWOOT_BASE_URL: 'not a url',
      CHATWOOT_API_ACCESS_TOKEN: 'tok secret with spaces',
      SLACK_APP_TOKEN: 'xoxb-wrong-kind-of-secret',
      SLACK_SIGNING_SECRET: 'sign secret',
      CHATWOOT_WEBHOOK_SECRET: 'hook secret',
      STORE_URL: 'redis://user:p4ssw0rd@:notaport',
    });
    const text = problems.join('\n');
    for (const secret of ['tok secret', 'xoxb-wrong', 'sign secret', 'hook secret', 'p4ssw0rd']) {
      expect(text).not.toContain(secret);
    }
    expect(problems.some((message) => message.startsWith('CHATWOOT_API_ACCESS_TOKEN contains spaces'))).toBe(true);
    expect(problems.some((message) => message.startsWith('SLACK_APP_TOKEN must start with "xapp-"'))).toBe(true);
  });

  test('formats the report for an operator, counting the problems', () => {
    const result = loadConfig({});
    if (result.ok) throw new Error('expected problems');
    expect(formatConfigProblems(result.problems)).toMatch(
      /^The configuration has 2 problems \(set these in \.env or the environment; see \.env\.example\):\n {2}- CHATWOOT_BASE_URL is required/,
    );
  });
});
