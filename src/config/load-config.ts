import { isSupportedCountry } from 'libphonenumber-js/max';
import { parseStoreUrl } from '../store/store-url.ts';
import type { VariableName } from './variables.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ChatwootConfig {
  /** Without a trailing slash. */
  readonly baseUrl: string;
  readonly apiAccessToken: string;
  readonly accountId: number;
  /** Origin(s) pasted conversation links may use: the public URL and the base URL. */
  readonly linkOrigins: readonly string[];
  /** Where people open Chatwoot: CHATWOOT_PUBLIC_URL, else the base URL; without a trailing slash. */
  readonly publicUrl: string;
  readonly inboxId: number | undefined;
  readonly webhookSecret: string | undefined;
  readonly requestsPerMinute: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
}

export interface SlackConfig {
  readonly botToken: string | undefined;
  readonly appToken: string | undefined;
  readonly signingSecret: string | undefined;
  /** With a trailing slash, as Slack's WebClient expects. */
  readonly apiUrl: string;
  readonly alertChannel: string | undefined;
  /** Preselected result channel of the global shortcut's form. */
  readonly defaultChannel: string | undefined;
  /** Besides an @mention of the bot, this prefix sends a thread reply to the customer. */
  readonly replyPrefix: string | undefined;
  readonly allowedUsers: readonly string[];
  readonly allowedChannels: readonly string[];
}

export interface Config {
  readonly chatwoot: ChatwootConfig;
  readonly whatsapp: { readonly pacingMs: number; readonly pacingBurst: number };
  readonly conversationCacheTtlMs: number;
  readonly defaultPhoneRegion: string | undefined;
  readonly templates: {
    /** The team's text snippets; `required` when the operator named the file (the default may be absent). */
    readonly file: string;
    readonly required: boolean;
    readonly cacheTtlMs: number;
  };
  readonly slack: SlackConfig;
  readonly port: number;
  readonly storeUrl: string;
  readonly logLevel: LogLevel;
}

export interface ConfigProblem {
  readonly variable: VariableName;
  readonly message: string;
}

export type LoadConfigResult =
  | { readonly ok: true; readonly config: Config; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Parses the environment into a Config. Pure: give it `process.env` at the edge, any object in tests.
 * Reports every problem at once, each with what to do; never echoes a secret's value.
 */
export interface LoadConfigOptions {
  /** `start` runs the Slack app: its tokens become required (the CLI's one-off commands do without). */
  readonly slackApp?: boolean;
}

export function loadConfig(env: Env, options: LoadConfigOptions = {}): LoadConfigResult {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const read = (name: VariableName): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const problem = (variable: VariableName, message: string): undefined => {
    problems.push({ variable, message });
    return undefined;
  };

  const url = (name: VariableName, example: string): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return problem(name, `${name} is not a URL (got "${raw}"): write it like ${example}.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return problem(name, `${name} must start with https:// or http:// (got "${raw}"): write it like ${example}.`);
    }
    if (parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || parsed.password !== '') {
      return problem(name, `${name} must be a plain address without query, fragment or credentials, like ${example}.`);
    }
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
  };

  const integer = (name: VariableName, fallback: number, min: number, max: number, what: string): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problem(name, `${name} must be a whole number from ${min} to ${max} (got "${raw}"): ${what}`);
      return fallback;
    }
    return value;
  };

  const secret = (name: VariableName, prefix: string | undefined, where: string): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    if (/\s/.test(raw)) return problem(name, `${name} contains spaces or line breaks: copy it again from ${where}.`);
    if (prefix !== undefined && !raw.startsWith(prefix)) {
      return problem(name, `${name} must start with "${prefix}": copy it from ${where}.`);
    }
    return raw;
  };

  const idList = (name: VariableName, pattern: RegExp, kind: string): string[] => {
    const raw = read(name);
    if (raw === undefined) return [];
    const ids = raw
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    const bad = ids.filter((id) => !pattern.test(id));
    if (bad.length > 0) {
      problem(
        name,
        `${name} must be a comma-separated list of Slack ${kind} ids (got ${bad.map((id) => `"${id}"`).join(', ')}): ` +
          `copy ids from Slack (profile → ⋮ → Copy member ID; channel details → bottom), not names.`,
      );
    }
    return ids;
  };

  // Chatwoot
  const baseUrl = url('CHATWOOT_BASE_URL', 'https://chat.example.com');
  if (read('CHATWOOT_BASE_URL') === undefined) {
    problem(
      'CHATWOOT_BASE_URL',
      'CHATWOOT_BASE_URL is required: the address of your Chatwoot server, like https://chat.example.com.',
    );
  }
  const token = secret('CHATWOOT_API_ACCESS_TOKEN', undefined, 'Chatwoot → Profile settings → Access token');
  if (read('CHATWOOT_API_ACCESS_TOKEN') === undefined) {
    problem(
      'CHATWOOT_API_ACCESS_TOKEN',
      'CHATWOOT_API_ACCESS_TOKEN is required: in Chatwoot open Profile settings and copy the Access token of an ' +
        'agent who is a member of the WhatsApp inbox, or of an administrator.',
    );
  }
  const accountId = integer(
    'CHATWOOT_ACCOUNT_ID',
    1,
    1,
    Number.MAX_SAFE_INTEGER,
    'it is the number after /app/accounts/ in Chatwoot URLs.',
  );
  const publicUrl = url('CHATWOOT_PUBLIC_URL', 'https://chat.example.com');
  const inboxRaw = read('CHATWOOT_INBOX_ID');
  const inboxId =
    inboxRaw === undefined
      ? undefined
      : integer(
          'CHATWOOT_INBOX_ID',
          0,
          1,
          Number.MAX_SAFE_INTEGER,
          'it is the number in Settings → Inboxes → your WhatsApp inbox URL; leave it empty to use the only WhatsApp inbox.',
        );
  const webhookSecret = secret('CHATWOOT_WEBHOOK_SECRET', undefined, 'Chatwoot → Settings → Integrations → Webhooks');
  const requestsPerMinute = integer(
    'CHATWOOT_REQUESTS_PER_MINUTE',
    240,
    1,
    100_000,
    "keep it below your Chatwoot server's RACK_ATTACK_LIMIT (300 in Chatwoot's example config).",
  );
  const concurrency = integer('CHATWOOT_CONCURRENCY', 4, 1, 64, 'a handful is plenty; 4 is the default.');
  const timeoutSeconds = integer(
    'CHATWOOT_TIMEOUT_SECONDS',
    15,
    1,
    300,
    'seconds one request to Chatwoot may take; 15 is the default.',
  );
  if (baseUrl?.startsWith('http:') && !isLoopback(new URL(baseUrl).hostname)) {
    warnings.push(
      'CHATWOOT_BASE_URL uses http:// to a non-local host: the API token travels unencrypted. Use https:// if you can.',
    );
  }

  // WhatsApp pacing and caching
  const pacingSeconds = integer('WHATSAPP_PACING_SECONDS', 6, 0, 600, '0 turns pacing off; 6 is the default.');
  const pacingBurst = integer('WHATSAPP_PACING_BURST', 3, 1, 100, '3 is the default.');
  const cacheTtlSeconds = integer(
    'CONVERSATION_CACHE_TTL_SECONDS',
    600,
    0,
    7 * 86_400,
    '0 turns the cache off; 600 is the default.',
  );
  const regionRaw = read('DEFAULT_PHONE_REGION');
  let defaultPhoneRegion: string | undefined;
  if (regionRaw !== undefined) {
    const region = regionRaw.toUpperCase();
    if (isSupportedCountry(region)) defaultPhoneRegion = region;
    else
      problem(
        'DEFAULT_PHONE_REGION',
        `DEFAULT_PHONE_REGION must be a two-letter country code such as GB, US or BR (got "${regionRaw}").`,
      );
  }

  // Slack (used by the Slack app; validated now so a typo is caught at once)
  const slackApiUrl = url('SLACK_API_URL', 'https://slack.com/api/') ?? 'https://slack.com/api';
  const slack: SlackConfig = {
    botToken: secret('SLACK_BOT_TOKEN', 'xoxb-', 'the Slack app page → OAuth & Permissions → Bot User OAuth Token'),
    appToken: secret('SLACK_APP_TOKEN', 'xapp-', 'the Slack app page → Basic Information → App-Level Tokens'),
    signingSecret: secret('SLACK_SIGNING_SECRET', undefined, 'the Slack app page → Basic Information → Signing Secret'),
    apiUrl: `${slackApiUrl}/`,
    alertChannel: undefined,
    defaultChannel: undefined,
    replyPrefix: read('SLACK_REPLY_PREFIX'),
    allowedUsers: idList('SLACK_ALLOWED_USERS', /^[UW][A-Z0-9]{6,}$/, 'user'),
    allowedChannels: idList('SLACK_ALLOWED_CHANNELS', /^[CGD][A-Z0-9]{6,}$/, 'channel'),
  };
  if (options.slackApp === true) {
    if (read('SLACK_BOT_TOKEN') === undefined) {
      problem(
        'SLACK_BOT_TOKEN',
        'SLACK_BOT_TOKEN is required to run the Slack app: install the app to your workspace (see README, "Create the Slack app"), then copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions.',
      );
    }
    if (read('SLACK_APP_TOKEN') === undefined && read('SLACK_SIGNING_SECRET') === undefined) {
      problem(
        'SLACK_APP_TOKEN',
        'Set SLACK_APP_TOKEN (Socket Mode, the easy default: Basic Information → App-Level Tokens, scope connections:write) or, for HTTP mode with a public URL, SLACK_SIGNING_SECRET (Basic Information → Signing Secret).',
      );
    }
  }
  const alertChannel = read('SLACK_ALERT_CHANNEL');
  if (alertChannel !== undefined && !/^[CG][A-Z0-9]{6,}$/.test(alertChannel)) {
    problem(
      'SLACK_ALERT_CHANNEL',
      `SLACK_ALERT_CHANNEL must be a channel id like C0123456789 (got "${alertChannel}"): open the channel's details and copy the id at the bottom.`,
    );
  }
  const defaultChannel = read('SLACK_DEFAULT_CHANNEL');
  if (defaultChannel !== undefined && !/^[CG][A-Z0-9]{6,}$/.test(defaultChannel)) {
    problem(
      'SLACK_DEFAULT_CHANNEL',
      `SLACK_DEFAULT_CHANNEL must be a channel id like C0123456789 (got "${defaultChannel}"): open the channel's details and copy the id at the bottom.`,
    );
  }
  const templatesFile = read('TEMPLATES_FILE');
  const templateCacheSeconds = integer(
    'TEMPLATE_CACHE_TTL_SECONDS',
    600,
    0,
    7 * 86_400,
    '0 reads the templates from Chatwoot every time; 600 is the default.',
  );

  // Process
  const port = integer('PORT', 3000, 1, 65_535, 'a TCP port such as 3000.');
  const storeUrl = read('STORE_URL') ?? 'sqlite://data/bridge.sqlite';
  const store = parseStoreUrl(storeUrl);
  if (!store.ok) problem('STORE_URL', store.message);
  const logLevelRaw = read('LOG_LEVEL')?.toLowerCase() ?? 'info';
  const logLevel = LOG_LEVELS.find((level) => level === logLevelRaw);
  if (logLevel === undefined) {
    problem('LOG_LEVEL', `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevelRaw}").`);
  }

  if (problems.length > 0 || baseUrl === undefined || token === undefined || logLevel === undefined) {
    return { ok: false, problems };
  }
  const origins = [publicUrl, baseUrl].filter((value) => value !== undefined).map((value) => new URL(value).origin);
  return {
    ok: true,
    warnings,
    config: {
      chatwoot: {
        baseUrl,
        apiAccessToken: token,
        accountId,
        linkOrigins: [...new Set(origins)],
        publicUrl: publicUrl ?? baseUrl,
        inboxId,
        webhookSecret,
        requestsPerMinute,
        concurrency,
        timeoutMs: timeoutSeconds * 1000,
      },
      whatsapp: { pacingMs: pacingSeconds * 1000, pacingBurst },
      conversationCacheTtlMs: cacheTtlSeconds * 1000,
      defaultPhoneRegion,
      templates: {
        file: templatesFile ?? 'templates.yml',
        required: templatesFile !== undefined,
        cacheTtlMs: templateCacheSeconds * 1000,
      },
      slack: { ...slack, alertChannel, defaultChannel },
      port,
      storeUrl,
      logLevel,
    },
  };
}

/** The operator-facing report of every problem, one per line. */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map((entry) => `  - ${entry.message}`);
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `The configuration has ${count} (set these in .env or the environment; see .env.example):\n${lines.join('\n')}`;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}
