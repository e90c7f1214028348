import { describe, expect, it } from 'vitest';
import { describeStoreUrl, openStore, parseStoreUrl, StoreOpenError } from '../../src/store/open-store.ts';
import { silentLogger } from './helpers.ts';

describe('parseStoreUrl', () => {
  const cwd = '/srv/bridge';

  it.each([
    ['memory://', { kind: 'memory', description: 'memory://' }],
    ['  memory://  ', { kind: 'memory', description: 'memory://' }],
    ['sqlite://data/bridge.sqlite', { kind: 'sqlite', path: '/srv/bridge/data/bridge.sqlite' }],
    ['sqlite://./data/../state/b.db', { kind: 'sqlite', path: '/srv/bridge/state/b.db' }],
    [
      'sqlite:///var/lib/bridge/bridge.sqlite',
      {
        kind: 'sqlite',
        path: '/var/lib/bridge/bridge.sqlite',
        description: 'sqlite:///var/lib/bridge/bridge.sqlite',
      },
    ],
    [
      'redis://localhost',
      { kind: 'redis', host: 'localhost', port: 6379, database: 0, tls: false, address: 'localhost:6379' },
    ],
    [
      'redis://cache.internal:6380/2',
      { kind: 'redis', port: 6380, database: 2, description: 'redis://cache.internal:6380/2' },
    ],
    [
      'rediss://default:s3cr%40t@redis.example.com:6390/1',
      { kind: 'redis', tls: true, description: 'rediss://default:***@redis.example.com:6390/1' },
    ],
    ['redis://:only-password@h', { kind: 'redis', description: 'redis://:***@h:6379/0' }],
    ['redis://looks-like-a-password@h', { kind: 'redis', description: 'redis://***@h:6379/0' }],
    ['redis://[::1]:7000', { kind: 'redis', host: '[::1]', port: 7000, address: '[::1]:7000' }],
  ])('accepts %s', (url, expected) => {
    const parsed = parseStoreUrl(url, { cwd });
    expect(parsed).toMatchObject({ ok: true, ...expected });
  });

  it('keeps the credentials in the URL used to connect, and only there', () => {
    const parsed = parseStoreUrl('redis://user:pa55@h:1/0');
    expect(parsed).toMatchObject({ ok: true, url: 'redis://user:pa55@h:1/0' });
    expect(JSON.stringify({ ...parsed, url: undefined })).not.toContain('pa55');
  });

  it.each([
    ['', /STORE_URL is empty.*memory:\/\/.*sqlite:\/\/.*redis:\/\//],
    ['postgres://db/bridge', /unsupported store "postgres:".*Accepted: memory:\/\//],
    ['data/bridge.sqlite', /has no scheme\. Did you mean sqlite:\/\/data\/bridge\.sqlite\?/],
    ['memory://somewhere', /memory:\/\/ takes no host/],
    ['sqlite:', /must start with sqlite:\/\//],
    ['sqlite://', /names no file/],
    ['sqlite://:memory:', /use memory:\/\//],
    ['sqlite://data/b.sqlite?mode=ro', /plain file path/],
    ['sqlite://~/bridge.sqlite', /"~" is not expanded/],
    ['sqlite://data/', /names a folder/],
    ['redis:host', /must have the form redis:\/\/\[user:password@\]host\[:port\]\[\/db\]/],
    ['redis://', /names no host/],
    ['redis://h:99999', /not a valid URL/],
    ['redis://h:0', /invalid port/],
    ['redis://h/cache', /database number such as \/0/],
    ['redis://h/0?password=x', /options and #fragments are not supported/],
  ])('rejects %j with a message saying what is accepted', (url, message) => {
    const parsed = parseStoreUrl(url, { cwd });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.message).toMatch(message);
    }
  });

  it('never repeats a password in a rejection message', () => {
    for (const url of ['redis://u:topsecret@h/cache', 'redis://u:topsecret@h:99999', 'rediss://u:topsecret@h/0?x=1']) {
      const parsed = parseStoreUrl(url);
      expect(parsed.ok).toBe(false);
      expect(JSON.stringify(parsed)).not.toContain('topsecret');
    }
  });
});

describe('describeStoreUrl', () => {
  it.each([
    ['redis://user:pass@host:6379/0', 'redis://user:***@host:6379/0'],
    ['rediss://:pass@host', 'rediss://:***@host'],
    ['redis://token@host', 'redis://***@host'],
    ['redis://user:p@ss/w#rd@host:1', 'redis://user:***@host:1'],
    ['redis://host:6379', 'redis://host:6379'],
    ['redis://host/0?password=abc&x=1', 'redis://host/0?password=***&x=***'],
    ['postgres://admin:pw@db/x', 'postgres://admin:***@db/x'],
    ['admin:pw@db', 'admin:***@db'],
    ['sqlite:///var/lib/me@home/bridge.sqlite', 'sqlite:///var/lib/me@home/bridge.sqlite'],
    ['memory://', 'memory://'],
  ])('shows %s as %s', (url, expected) => {
    expect(describeStoreUrl(url)).toBe(expected);
  });
});

describe('openStore', () => {
  it('throws StoreOpenError with the parse message for an unusable URL', async () => {
    const error = await openStore('ftp://x', { logger: silentLogger }).catch((rejection: unknown) => rejection);
    expect(error).toBeInstanceOf(StoreOpenError);
    expect(error).toMatchObject({
      code: 'store_unavailable',
      message: expect.stringMatching(/unsupported store "ftp:"/),
    });
  });
});
