import { isAbsolute, resolve } from 'node:path';

export type StoreKind = 'memory' | 'sqlite' | 'redis';

export interface MemoryStoreTarget {
  readonly ok: true;
  readonly kind: 'memory';
  /** What to show in logs and `check`. */
  readonly description: string;
}

export interface SqliteStoreTarget {
  readonly ok: true;
  readonly kind: 'sqlite';
  /** Absolute path of the database file. */
  readonly path: string;
  readonly description: string;
}

export interface RedisStoreTarget {
  readonly ok: true;
  readonly kind: 'redis';
  /** The URL to connect with, credentials included: never log it, log `description`. */
  readonly url: string;
  readonly tls: boolean;
  /** Host as written (IPv6 addresses keep their brackets), for messages. */
  readonly host: string;
  readonly port: number;
  readonly database: number;
  /** `host:port`, for error messages. */
  readonly address: string;
  /** Normalised URL with the password masked. */
  readonly description: string;
}

export type StoreTarget = MemoryStoreTarget | SqliteStoreTarget | RedisStoreTarget;
export type ParsedStoreUrl = StoreTarget | { readonly ok: false; readonly message: string };

const DEFAULT_REDIS_PORT = 6379;

export const ACCEPTED_STORE_URLS =
  'Accepted: memory:// (kept in memory, lost on restart), sqlite://data/bridge.sqlite (file relative to the working directory), ' +
  'sqlite:///var/lib/bridge/bridge.sqlite (absolute path), redis://[user:password@]host[:port][/db] or rediss://… (Redis over TLS).';

const MASK = '***';

/**
 * Checks a STORE_URL without opening anything (the config module validates with it).
 * Relative SQLite paths resolve against `cwd` (default: the process working directory).
 */
export function parseStoreUrl(url: string, options: { cwd?: string } = {}): ParsedStoreUrl {
  const raw = url.trim();
  if (raw === '') {
    return invalid(`STORE_URL is empty. ${ACCEPTED_STORE_URLS}`);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory':
      return parseMemory(raw);
    case 'sqlite':
      return parseSqlite(raw, options.cwd ?? process.cwd());
    case 'redis':
    case 'rediss':
      return parseRedis(raw, scheme);
    case undefined: {
      const hint = /\.(sqlite3?|db)$/i.test(raw) ? ` Did you mean sqlite://${raw}?` : '';
      return invalid(`STORE_URL "${describeStoreUrl(raw)}" has no scheme.${hint} ${ACCEPTED_STORE_URLS}`);
    }
    default:
      return invalid(
        `STORE_URL "${describeStoreUrl(raw)}" uses an unsupported store "${scheme}:". ${ACCEPTED_STORE_URLS}`,
      );
  }
}

/**
 * The URL as written, with credentials masked (`redis://user:***@host`), safe to log even when it does not parse.
 * SQLite and memory URLs carry no credentials and are returned unchanged.
 */
export function describeStoreUrl(url: string): string {
  const raw = url.trim();
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(raw);
  const scheme = match?.[1]?.toLowerCase();
  if (scheme === 'sqlite' || scheme === 'memory') {
    return raw;
  }
  const rest = match ? (match[2] ?? '') : raw;
  const prefix = match ? `${match[1] ?? ''}:` : '';
  const slashes = rest.startsWith('//') ? '//' : '';
  let body = rest.slice(slashes.length);
  // Everything up to the last "@" is user information, even when a password holds "/", "?" or "#" unencoded.
  const at = body.lastIndexOf('@');
  if (at !== -1) {
    const userInfo = body.slice(0, at);
    const colon = userInfo.indexOf(':');
    const user = colon === -1 ? '' : userInfo.slice(0, colon);
    const safeUser = colon !== -1 && !/[/?#]/.test(user) ? `${user}:` : '';
    body = `${safeUser}${MASK}${body.slice(at)}`;
  }
  body = body.replace(/([?&][^=&#]*=)[^&#]*/g, `$1${MASK}`);
  return `${prefix}${slashes}${body}`;
}

function parseMemory(raw: string): ParsedStoreUrl {
  if (!/^memory:(\/\/)?$/i.test(raw)) {
    return invalid(`STORE_URL "${raw}": memory:// takes no host, path or options. ${ACCEPTED_STORE_URLS}`);
  }
  return { ok: true, kind: 'memory', description: 'memory://' };
}

function parseSqlite(raw: string, cwd: string): ParsedStoreUrl {
  if (!/^sqlite:\/\//i.test(raw)) {
    return invalid(`STORE_URL "${raw}" must start with sqlite:// followed by a file path. ${ACCEPTED_STORE_URLS}`);
  }
  const filePath = raw.slice('sqlite://'.length);
  if (filePath === '' || filePath === '/') {
    return invalid(`STORE_URL "${raw}" names no file; write e.g. sqlite://data/bridge.sqlite. ${ACCEPTED_STORE_URLS}`);
  }
  if (filePath === ':memory:') {
    return invalid(`STORE_URL "${raw}": use memory:// for a store that is not kept on disk.`);
  }
  if (/[?#]/.test(filePath)) {
    return invalid(`STORE_URL "${raw}": a sqlite:// URL takes a plain file path, without ?options or #fragments.`);
  }
  if (filePath.startsWith('~')) {
    return invalid(
      `STORE_URL "${raw}": "~" is not expanded; write the absolute path, e.g. sqlite:///home/me/bridge.sqlite.`,
    );
  }
  if (filePath.endsWith('/')) {
    return invalid(`STORE_URL "${raw}" names a folder; add a file name, e.g. ${raw}bridge.sqlite.`);
  }
  const path = isAbsolute(filePath) ? resolve(filePath) : resolve(cwd, filePath);
  return { ok: true, kind: 'sqlite', path, description: `sqlite://${path}` };
}

function parseRedis(raw: string, scheme: 'redis' | 'rediss'): ParsedStoreUrl {
  const shown = describeStoreUrl(raw);
  const form = `${scheme}://[user:password@]host[:port][/db]`;
  if (!raw.slice(scheme.length + 1).startsWith('//')) {
    return invalid(`STORE_URL "${shown}" must have the form ${form}.`);
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return invalid(
      `STORE_URL "${shown}" is not a valid URL (port 1-65535; percent-encode special characters in the password, e.g. @ as %40). Form: ${form}.`,
    );
  }
  if (parsed.hostname === '') {
    return invalid(`STORE_URL "${shown}" names no host. Form: ${form}.`);
  }
  const port = parsed.port === '' ? DEFAULT_REDIS_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    return invalid(`STORE_URL "${shown}" has an invalid port (1-65535). Form: ${form}.`);
  }
  const dbText = parsed.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) {
    return invalid(`STORE_URL "${shown}": the path must be a database number such as /0, not "/${dbText}".`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    return invalid(`STORE_URL "${shown}": ?options and #fragments are not supported. Form: ${form}.`);
  }
  const database = dbText === '' ? 0 : Number(dbText);
  const address = `${parsed.hostname}:${port}`;
  let userInfo = '';
  if (parsed.password !== '') {
    userInfo = `${parsed.username}:${MASK}@`;
  } else if (parsed.username !== '') {
    // A lone user part is often a password written without the leading ":"; never show it.
    userInfo = `${MASK}@`;
  }
  return {
    ok: true,
    kind: 'redis',
    url: raw,
    tls: scheme === 'rediss',
    host: parsed.hostname,
    port,
    database,
    address,
    description: `${scheme}://${userInfo}${address}/${database}`,
  };
}

function invalid(message: string): ParsedStoreUrl {
  return { ok: false, message };
}
