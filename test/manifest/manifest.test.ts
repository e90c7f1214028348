import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { GLOBAL_SHORTCUT_ID, MESSAGE_SHORTCUT_ID } from '../../src/slack/send-modal.ts';

/**
 * manifest.yml, checked against Slack's official app manifest JSON Schema (test/fixtures/slack/manifest-schema, see
 * SOURCE.md) offline, and for the facts a user creating the app would notice: one `/whatsapp` command, Socket Mode,
 * buttons, and only the scopes the bridge uses.
 */

interface SlashCommand {
  command: string;
  description: string;
  url?: string;
  usage_hint?: string;
  should_escape?: boolean;
}
interface Manifest {
  _metadata?: { major_version?: number };
  display_information: { name: string; description?: string; long_description?: string; background_color?: string };
  features?: {
    app_home?: Record<string, boolean>;
    bot_user?: { display_name: string; always_online?: boolean };
    slash_commands?: SlashCommand[];
    shortcuts?: unknown[];
  };
  oauth_config?: { scopes?: Record<string, string[]> };
  settings?: {
    event_subscriptions?: { bot_events?: string[]; request_url?: string };
    interactivity?: { is_enabled: boolean; request_url?: string; message_menu_options_url?: string };
    socket_mode_enabled?: boolean;
    org_deploy_enabled?: boolean;
    token_rotation_enabled?: boolean;
  };
}

const SCHEMA_DIR = new URL('../fixtures/slack/manifest-schema/', import.meta.url);
/** Where the schema was copied from; only on the machine that vendored it (CI skips the comparison). */
const SHARED_SCHEMA_DIR = '/work/shared/slack/manifest-schema';
const HTTP_URL = 'https://bridge.example.com/slack/events';

const readSchema = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(path, SCHEMA_DIR), 'utf8')) as Record<string, unknown>;

/** The absolute `$ref`s of the top-level schema: the versioned schemas it dispatches to by `_metadata.major_version`. */
function absoluteRefs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(absoluteRefs);
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' && /^https?:\/\//.test(value) ? [value] : absoluteRefs(value),
  );
}

const topLevelSchema = readSchema('manifest.schema.json');
const versionedRefs = [...new Set(absoluteRefs(topLevelSchema))];

// `strict: false`: the schema has a non-standard `regex` keyword (and `_note`s). `regex` is defined here so that
// `background_color` is checked as Slack checks it; `uri` is the only format the schema uses.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addKeyword({
  keyword: 'regex',
  type: 'string',
  schemaType: 'string',
  validate: (pattern: string, data: string) => new RegExp(pattern).test(data),
  errors: false,
});
ajv.addFormat('uri', (value: string) => URL.canParse(value));
for (const url of versionedRefs) ajv.addSchema(readSchema(`schemas/${url.split('/').at(-1)}`), url);
const validateManifest = ajv.compile(topLevelSchema);

/**
 * Ajv's errors for a manifest, one line each; empty when it is valid. The top-level `oneOf` reports a problem once per
 * branch that reaches the versioned schema, so repeated lines are dropped.
 */
function schemaErrors(manifest: unknown): string[] {
  if (validateManifest(manifest)) return [];
  const lines = (validateManifest.errors ?? []).map(
    (error) => `${error.instancePath || '/'} ${error.message ?? error.keyword} (${error.schemaPath})`,
  );
  return [...new Set(lines)];
}

const manifest = parse(readFileSync(new URL('../../manifest.yml', import.meta.url), 'utf8')) as Manifest;

/** The first slash command of a manifest, which manifest.yml has (checked below). */
function whatsappCommand(copy: Manifest): SlashCommand {
  const command = copy.features?.slash_commands?.[0];
  if (command === undefined) throw new Error('manifest.yml has no slash command');
  return command;
}

/** A deep copy of manifest.yml with `change` applied. */
function variant(change: (copy: Manifest) => void): Manifest {
  const copy = structuredClone(manifest);
  change(copy);
  return copy;
}

/** The HTTP-mode setup the comments in manifest.yml describe: Socket Mode off, every Slack request to one URL. */
const httpManifest = variant((copy) => {
  if (copy.settings?.interactivity === undefined) throw new Error('manifest.yml has no settings.interactivity');
  copy.settings.socket_mode_enabled = false;
  copy.settings.interactivity.request_url = HTTP_URL;
  if (copy.settings.event_subscriptions !== undefined) copy.settings.event_subscriptions.request_url = HTTP_URL;
  for (const command of copy.features?.slash_commands ?? []) command.url = HTTP_URL;
});

describe('Slack app manifest schema', () => {
  test('the top-level schema dispatches to the vendored versioned schemas', () => {
    expect(versionedRefs).toEqual([
      'https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.1.0.0.json',
      'https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.2.0.0.json',
    ]);
  });

  test('manifest.yml is valid (Socket Mode)', () => {
    expect(schemaErrors(manifest), "manifest.yml does not match Slack's manifest schema").toEqual([]);
  });

  test('the HTTP-mode variant described in manifest.yml is valid', () => {
    expect(httpManifest.settings?.socket_mode_enabled).toBe(false);
    expect(httpManifest.features?.slash_commands?.[0]?.url).toBe(HTTP_URL);
    expect(schemaErrors(httpManifest), "the HTTP-mode manifest does not match Slack's manifest schema").toEqual([]);
  });

  test.each<[string, string, (copy: Manifest) => void]>([
    [
      'a 40-character app name',
      '/display_information/name',
      (copy) => {
        copy.display_information.name = 'W'.repeat(40);
      },
    ],
    [
      'a slash command without a description',
      '/features/slash_commands/0',
      (copy) => {
        Reflect.deleteProperty(whatsappCommand(copy), 'description');
      },
    ],
    [
      'a command without its leading slash',
      '/features/slash_commands/0/command',
      (copy) => {
        whatsappCommand(copy).command = 'whatsapp';
      },
    ],
    [
      'a command URL without a scheme',
      '/features/slash_commands/0/url',
      (copy) => {
        whatsappCommand(copy).url = 'bridge.example.com/slack/events';
      },
    ],
    [
      'a colour name as background_color',
      '/display_information/background_color',
      (copy) => {
        copy.display_information.background_color = 'green';
      },
    ],
    [
      'a misspelt setting',
      '/settings',
      (copy) => {
        Object.assign(copy.settings ?? {}, { socket_mode: true });
      },
    ],
  ])('rejects %s', (_name, path, change) => {
    const errors = schemaErrors(variant(change));
    expect(
      errors.some((error) => error.startsWith(`${path} `)),
      errors.join('\n'),
    ).toBe(true);
  });
});

describe('manifest.yml', () => {
  test('creates the WhatsApp Bridge app with an always-online bot user', () => {
    expect(manifest._metadata?.major_version).toBe(1);
    expect(manifest.display_information.name).toBe('WhatsApp Bridge');
    expect(manifest.display_information.background_color).toBe('#25D366');
    expect(manifest.features?.bot_user).toEqual({ display_name: 'whatsapp-bridge', always_online: true });
    // A thread that cannot live in the channel lives in the user's DM with the app: its Messages tab must exist.
    expect(manifest.features?.app_home).toMatchObject({
      messages_tab_enabled: true,
      messages_tab_read_only_enabled: false,
    });
  });

  test('has one slash command, /whatsapp, escaped, with no URL (Socket Mode)', () => {
    const commands = manifest.features?.slash_commands ?? [];
    expect(commands.map((command) => command.command)).toEqual(['/whatsapp']);
    const [whatsapp] = commands;
    expect(whatsapp?.should_escape).toBe(true);
    expect(whatsapp).not.toHaveProperty('url');
    for (const subcommand of ['send', 'note', 'template', 'templates', 'find', 'status', 'help']) {
      expect(whatsapp?.usage_hint).toContain(subcommand);
    }
  });

  test('uses Socket Mode, with interactivity on and no request URL', () => {
    expect(manifest.settings?.socket_mode_enabled).toBe(true);
    expect(manifest.settings?.interactivity).toEqual({ is_enabled: true });
    expect(manifest.settings?.org_deploy_enabled).toBe(false);
    // The bridge keeps one long-lived xoxb- token; rotation would expire it after 12 hours.
    expect(manifest.settings?.token_rotation_enabled).toBe(false);
  });

  test('asks for exactly the bot scopes the bridge uses, and no user scopes', () => {
    const scopes = manifest.oauth_config?.scopes ?? {};
    expect(Object.keys(scopes)).toEqual(['bot']);
    expect([...(scopes['bot'] ?? [])].sort()).toEqual([
      'channels:history',
      'chat:write',
      'chat:write.public',
      'commands',
      'files:read',
      'groups:history',
      'im:history',
      'reactions:write',
      'users:read',
    ]);
  });

  test('has the two shortcuts the app handles, with the callback ids it registers', () => {
    expect(manifest.features?.shortcuts).toEqual([
      expect.objectContaining({ type: 'global', callback_id: GLOBAL_SHORTCUT_ID, name: 'Send WhatsApp message' }),
      expect.objectContaining({ type: 'message', callback_id: MESSAGE_SHORTCUT_ID, name: 'Send to WhatsApp' }),
    ]);
  });

  test('subscribes to exactly the message events thread replies need (each with its history scope)', () => {
    expect(manifest.settings?.event_subscriptions).toEqual({
      bot_events: ['message.channels', 'message.groups', 'message.im'],
    });
  });
});

describe.skipIf(!existsSync(SHARED_SCHEMA_DIR))('vendored schema', () => {
  const files = (dir: string) =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((path) => statSync(join(dir, path)).isFile())
      .sort();

  test(`is byte-identical to ${SHARED_SCHEMA_DIR}`, () => {
    const shared = files(SHARED_SCHEMA_DIR);
    const vendoredDir = fileURLToPath(SCHEMA_DIR);
    expect(files(vendoredDir).filter((path) => path !== 'SOURCE.md')).toEqual(shared);
    for (const path of shared) {
      expect(readFileSync(join(vendoredDir, path)).equals(readFileSync(join(SHARED_SCHEMA_DIR, path))), path).toBe(
        true,
      );
    }
  });
});
