import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach } from 'vitest';
import type { BridgeTuning } from '../../src/bridge.ts';
import type { ExitCode } from '../../src/cli/exit-codes.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { templateValue } from '../../src/slack/send-modal.ts';
import type { SlackTuning } from '../../src/slack/slack-app.ts';
import {
  type FakeChatwoot,
  type FakeChatwootOptions,
  type FakeInbox,
  type FakeInboxInit,
  type FakeMessage,
  type FakeWebhookRequest,
  type MessageTemplate,
  startFakeChatwoot,
} from '../fakes/fake-chatwoot.ts';
import {
  type FakeSlack,
  type FakeSlackOptions,
  SLACK_DEFAULTS,
  type SlackMessage,
  type SlackViewRecord,
  startFakeSlack,
} from '../fakes/fake-slack.ts';
import { FAST } from './bridge-harness.ts';
import {
  type BlockActionsInit,
  blockActions,
  formBody,
  interactiveBody,
  postSigned,
  type SlashCommandFields,
  slashCommand,
} from './slack-requests.ts';

/** Slack paced fast enough for tests, still within the fake's limits (so a 429 in a test is a real finding). */
export const FAST_SLACK: SlackTuning = {
  poster: { postIntervalMs: 30, postBurst: 1, updateIntervalMs: 30, updateBurst: 3, giveUpAfterMs: 3_000 },
  alertGroupWindowMs: 150,
  replyPollMs: 100,
};
/** The fake's limits for FAST_SLACK: 40 posts/s per channel, 3,000 updates/min. */
export const FAST_SLACK_LIMITS: Pick<FakeSlackOptions, 'postRate' | 'updateRate'> = {
  postRate: { perSecond: 40, burst: 3 },
  updateRate: { perMinute: 3_000, burst: 5 },
};

export interface AppHarnessOptions {
  readonly mode?: 'http' | 'socket';
  readonly env?: Readonly<Record<string, string>>;
  readonly slack?: FakeSlackOptions;
  readonly chatwoot?: FakeChatwootOptions;
  readonly slackTuning?: SlackTuning;
  /**
   * Overrides of the FAST bridge tuning, e.g. `{ statusFirstDelayMs: 60_000 }` so status re-reads (polling) stay out of
   * the way and a test proves that webhooks alone moved a send.
   */
  readonly bridgeTuning?: BridgeTuning;
  /** Reuse fakes (a restart of the app against the same Slack and Chatwoot). */
  readonly fakes?: { slack: FakeSlack; chatwoot: FakeChatwoot; inbox: FakeInbox };
  readonly storeUrl?: string;
  /** Listen on this port (a restart keeps the URL Chatwoot's webhook points at); default: a free one. */
  readonly port?: number;
  /** Extra settings for the WhatsApp inbox the harness creates (its templates, its members). */
  readonly inbox?: Partial<FakeInboxInit>;
}

export interface CommandAnswer {
  /** HTTP status (Socket Mode: 200 once acked). */
  readonly status: number;
  /** What the app acknowledged with (the ephemeral answer), or undefined for an empty ack. */
  readonly body: Record<string, unknown> | undefined;
  readonly fields: SlashCommandFields;
}

export interface AppHarness {
  readonly mode: 'http' | 'socket';
  readonly slack: FakeSlack;
  readonly chatwoot: FakeChatwoot;
  readonly inbox: FakeInbox;
  readonly port: number;
  readonly url: string;
  readonly env: Readonly<Record<string, string>>;
  /** Exit code once the app stops. */
  readonly exited: Promise<ExitCode>;
  /** Everything the app wrote (JSON log lines on stdout, messages for the operator on stderr). */
  stdout(): string;
  stderr(): string;
  logs(): Array<Record<string, unknown>>;
  /** A WhatsApp customer who wrote a minute ago (window open). */
  customer(init?: { name?: string; phone?: string; wrote?: boolean }): {
    conversationId: number;
    phone: string;
    contactId: number;
  };
  /** A `/whatsapp …` command, correctly signed (HTTP) or as a Socket Mode envelope. */
  command(text: string, fields?: Partial<SlashCommandFields>): Promise<CommandAnswer>;
  /** A block_actions click. */
  click(init: BlockActionsInit): Promise<{ status: number }>;
  /** Sends any interactive payload (view_submission, …). */
  interactive(payload: object): Promise<{ status: number; body: Record<string, unknown> | undefined }>;
  /** SIGTERM: resolves with the exit code. */
  stop(): Promise<ExitCode>;
  /** Stops the app and the fakes it created. */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  await new Promise((resolveClose) => server.close(resolveClose));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** For a test file: `const start = appHarnesses();` starts apps that are closed after each test. */
export function appHarnesses(): (options?: AppHarnessOptions) => Promise<AppHarness> {
  const running: AppHarness[] = [];
  afterEach(async () => {
    for (const harness of running.splice(0).reverse()) await harness.close();
  });
  return async (options = {}) => {
    const harness = await startAppHarness(options);
    running.push(harness);
    return harness;
  };
}

/** The form's option value for an approved template. */
export function tpl(name: string, language: string): string {
  return templateValue({ name, language });
}

let customers = 0;

/** Starts the real app (`start`, in-process) against a fake Slack and a fake Chatwoot, and waits until it is ready. */
export async function startAppHarness(options: AppHarnessOptions = {}): Promise<AppHarness> {
  const mode = options.mode ?? 'http';
  const ownFakes = options.fakes === undefined;
  const slack = options.fakes?.slack ?? (await startFakeSlack({ ...FAST_SLACK_LIMITS, ...options.slack }));
  const chatwoot = options.fakes?.chatwoot ?? (await startFakeChatwoot(options.chatwoot));
  const inbox =
    options.fakes?.inbox ??
    chatwoot.addInbox({
      name: 'WhatsApp Support',
      channelType: 'Channel::Whatsapp',
      provider: 'whatsapp_cloud',
      phoneNumber: '+14155550100',
      ...options.inbox,
    });
  const port = options.port ?? (await freePort());
  const env: Record<string, string> = {
    CHATWOOT_BASE_URL: chatwoot.url,
    CHATWOOT_API_ACCESS_TOKEN: chatwoot.user.token,
    CHATWOOT_ACCOUNT_ID: String(chatwoot.accountId),
    CHATWOOT_REQUESTS_PER_MINUTE: '60000',
    CHATWOOT_TIMEOUT_SECONDS: '2',
    WHATSAPP_PACING_SECONDS: '0',
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_API_URL: slack.apiUrl,
    ...(mode === 'socket'
      ? { SLACK_APP_TOKEN: slack.appToken }
      : { SLACK_SIGNING_SECRET: SLACK_DEFAULTS.signingSecret }),
    STORE_URL: options.storeUrl ?? 'memory://',
    PORT: String(port),
    LOG_LEVEL: 'debug',
    ...options.env,
  };
  let out = '';
  let err = '';
  let stopNow: (signal: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolveStop) => {
    stopNow = resolveStop;
  });
  const exited = runCli(['start'], {
    env,
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    clock: {
      now: () => Date.now(),
      sleep: (ms, signal) => delay(Math.max(0, ms), undefined, signal === undefined ? undefined : { signal }),
    },
    waitForStop: () => stopSignal,
    tuning: { bridge: { ...FAST, ...options.bridgeTuning }, slack: { ...FAST_SLACK, ...options.slackTuning } },
  });
  const url = `http://127.0.0.1:${port}`;
  let finished = false;
  void exited.finally(() => {
    finished = true;
  });

  const harness: AppHarness = {
    mode,
    slack,
    chatwoot,
    inbox,
    port,
    url,
    env,
    exited,
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      out
        .split('\n')
        .filter((row) => row.startsWith('{'))
        .map((row) => JSON.parse(row) as Record<string, unknown>),
    customer: (init = {}) => {
      customers += 1;
      const phone = init.phone ?? `+1415556${String(1000 + customers).slice(-4)}`;
      const contact = chatwoot.addContact({ name: init.name ?? `Customer ${customers}`, phoneNumber: phone });
      const conversation = chatwoot.addConversation({ inboxId: inbox.id, contactId: contact.id });
      if (init.wrote !== false) {
        chatwoot.addIncomingMessage(conversation.id, { content: 'Hi, any news on my order?', at: Date.now() - 60_000 });
      }
      return { conversationId: conversation.id, phone, contactId: contact.id };
    },
    command: async (text, fields = {}) => {
      const command = slashCommand({ response_url: slack.responseUrl(), ...fields, text });
      if (mode === 'socket') {
        const ack = await slack.socket.send('slash_commands', command);
        return { status: 200, body: Object.keys(ack).length === 0 ? undefined : ack, fields: command };
      }
      const response = await postSigned(`${url}/slack/events`, formBody({ ...command }), {
        secret: SLACK_DEFAULTS.signingSecret,
      });
      const raw = await response.text();
      return {
        status: response.status,
        body: raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>),
        fields: command,
      };
    },
    click: async (init) => {
      const payload = blockActions({ responseUrl: slack.responseUrl(), ...init });
      const answer = await harness.interactive(payload);
      return { status: answer.status };
    },
    interactive: async (payload) => {
      if (mode === 'socket') {
        const ack = await slack.socket.send('interactive', payload);
        return { status: 200, body: Object.keys(ack).length === 0 ? undefined : ack };
      }
      const response = await postSigned(`${url}/slack/events`, interactiveBody(payload), {
        secret: SLACK_DEFAULTS.signingSecret,
      });
      const raw = await response.text();
      return { status: response.status, body: raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>) };
    },
    stop: async () => {
      stopNow('SIGTERM');
      return exited;
    },
    close: async () => {
      if (!finished) {
        stopNow('SIGTERM');
        await exited.catch(() => undefined);
      }
      if (ownFakes) {
        await slack.close();
        await chatwoot.close();
      }
    },
  };

  // Ready: /readyz says so (Slack connected in Socket Mode), or the app exited (the test looks at why).
  const deadline = Date.now() + 15_000;
  while (!finished && Date.now() < deadline) {
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    await delay(20);
  }
  return harness;
}

/** Polls until `probe` returns a value, or fails with `what` and the last error. */
export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 8_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await delay(15);
  }
  throw new Error(`timed out waiting for ${what}${lastError === undefined ? '' : `: ${String(lastError)}`}`);
}

/** Root messages (not thread replies) in a channel of the fake Slack, oldest first. */
export function rootsIn(h: AppHarness, channel: string): SlackMessage[] {
  return h.slack.messages(channel).filter((message) => message.threadTs === undefined);
}

/** The thread whose root names `conversation #id` in `channel`: its root and its replies (oldest first). */
export function threadFor(
  h: AppHarness,
  channel: string,
  conversationId: number,
): { root: SlackMessage | undefined; replies: SlackMessage[] } {
  const names = new RegExp(`conversation #${conversationId}(?!\\d)`);
  const root = rootsIn(h, channel).find((message) => names.test(message.text));
  return { root, replies: root === undefined ? [] : h.slack.thread(channel, root.ts) };
}

/** Waits until the thread of `conversationId` in `channel` has a status reply matching `pattern`. */
export function threadReaches(
  h: AppHarness,
  channel: string,
  conversationId: number,
  pattern: RegExp,
  timeoutMs?: number,
): Promise<{ root: SlackMessage; replies: SlackMessage[] }> {
  return eventually(
    () => {
      const { root, replies } = threadFor(h, channel, conversationId);
      return root !== undefined && replies.some((reply) => pattern.test(reply.text)) ? { root, replies } : undefined;
    },
    `the thread of conversation #${conversationId} in ${channel} to match ${String(pattern)}`,
    timeoutMs,
  );
}

/** Messages Chatwoot holds for the customer (outgoing, not private notes). */
export function outgoingTo(h: AppHarness, conversationId: number): FakeMessage[] {
  return h.chatwoot
    .messages(conversationId)
    .filter((message) => message.messageType === 'outgoing' && !message.private);
}

/** The text of everything the app posted to response_urls (a reply's `text`, or the raw body). */
export function responseTexts(h: AppHarness): string[] {
  return h.slack.responses().map((post) => {
    const body = post.body;
    if (typeof body === 'object' && body !== null && 'text' in body) return String(body.text);
    return typeof body === 'string' ? body : JSON.stringify(body);
  });
}

/** A `view_submission` payload for a modal the app opened (HTTP `payload` field or Socket Mode `interactive`). */
export function viewSubmission(init: {
  viewId: string;
  callbackId: string;
  privateMetadata: string;
  values: Record<string, Record<string, { type: string; value: string }>>;
  user?: { id: string; name: string };
}): Record<string, unknown> {
  const user = init.user ?? SLACK_DEFAULTS.user;
  return {
    type: 'view_submission',
    team: { id: SLACK_DEFAULTS.teamId, domain: SLACK_DEFAULTS.teamDomain },
    user: { id: user.id, username: user.name, name: user.name, team_id: SLACK_DEFAULTS.teamId },
    api_app_id: SLACK_DEFAULTS.appId,
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    trigger_id: `${Date.now()}.738474920.${Math.random().toString(16).slice(2, 21)}`,
    view: {
      id: init.viewId,
      team_id: SLACK_DEFAULTS.teamId,
      type: 'modal',
      blocks: [],
      private_metadata: init.privateMetadata,
      callback_id: init.callbackId,
      state: { values: init.values },
      hash: `${Math.floor(Date.now() / 1000)}.abcdef12`,
      title: { type: 'plain_text', text: 'WhatsApp message' },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: { type: 'plain_text', text: 'Send' },
      previous_view_id: null,
      root_view_id: init.viewId,
      app_id: SLACK_DEFAULTS.appId,
      external_id: '',
      app_installed_team_id: SLACK_DEFAULTS.teamId,
      bot_id: SLACK_DEFAULTS.botId,
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

// ---- The send form (shortcut modals): payloads Slack sends for a modal, and what the app put in it.

/** Approved templates as Chatwoot keeps them (Meta's shape), for the form and template command tests. */
export const META_TEMPLATES = {
  /** Two body variables: `processed_params: { body: { '1': …, '2': … } }`. */
  orderUpdate: {
    name: 'order_update',
    language: 'en_US',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [
      { type: 'BODY', text: 'Hi {{1}}, your order {{2}} has shipped.', example: { body_text: [['Jane', '4411']] } },
    ],
  },
  /** The same name in Spanish: choosing needs `lang=`. */
  orderUpdateSpanish: {
    name: 'order_update',
    language: 'es',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Hola {{1}}, tu pedido {{2}} ha sido enviado.' }],
  },
  /** Named variables and a copy-code button. */
  welcomeNamed: {
    name: 'welcome_named',
    language: 'en',
    status: 'APPROVED',
    category: 'MARKETING',
    parameter_format: 'NAMED',
    components: [
      { type: 'BODY', text: 'Welcome {{customer_name}}! Your code is {{discount_code}}.' },
      { type: 'BUTTONS', buttons: [{ type: 'COPY_CODE', text: 'Copy offer code', example: 'WELCOME10' }] },
    ],
  },
  /** An image header (a URL to fill) and a URL button with a variable suffix. */
  trackImage: {
    name: 'track_parcel',
    language: 'en_GB',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'IMAGE' },
      { type: 'BODY', text: 'Your parcel {{1}} is on its way.' },
      {
        type: 'BUTTONS',
        buttons: [
          { type: 'QUICK_REPLY', text: 'Stop' },
          { type: 'URL', text: 'Track', url: 'https://x.example/{{1}}' },
        ],
      },
    ],
  },
  /** No variables at all. */
  hello: {
    name: 'hello_again',
    language: 'en',
    status: 'approved',
    category: 'MARKETING',
    components: [{ type: 'BODY', text: 'Hello again! Reply to this message to chat with us.' }],
  },
  /** Not approved: never offered. */
  pending: {
    name: 'pending_one',
    language: 'en',
    status: 'PENDING',
    category: 'UTILITY',
    components: [{ type: 'BODY', text: 'Not yet {{1}}.' }],
  },
  rejected: {
    name: 'rejected_one',
    language: 'en',
    status: 'REJECTED',
    category: 'UTILITY',
    components: [{ type: 'BODY', text: 'Never {{1}}.' }],
  },
} satisfies Record<string, MessageTemplate>;

/** What the form's blocks look like (the parts tests read). */
export interface FormBlock {
  type: string;
  block_id?: string;
  optional?: boolean;
  dispatch_action?: boolean;
  label?: { text?: string };
  text?: { text?: string };
  element?: {
    type?: string;
    action_id?: string;
    options?: Array<{ text: { text: string }; value: string }>;
    initial_option?: { text: { text: string }; value: string };
    initial_value?: string;
    initial_conversation?: string;
    max_length?: number;
    placeholder?: { text?: string };
  };
  elements?: Array<{ type?: string; action_id?: string; text?: string | { text?: string } }>;
}

export function formBlocks(record: SlackViewRecord | undefined): FormBlock[] {
  const blocks = record?.view['blocks'];
  return Array.isArray(blocks) ? (blocks as FormBlock[]) : [];
}

export function formBlock(record: SlackViewRecord | undefined, blockId: string): FormBlock | undefined {
  return formBlocks(record).find((block) => block.block_id === blockId);
}

/** The block ids of the form's variable fields (`var:1`, `var:customer_name`, …), in order. */
export function variableBlockIds(record: SlackViewRecord | undefined): string[] {
  return formBlocks(record).flatMap((block) => (block.block_id?.startsWith('var:') === true ? [block.block_id] : []));
}

/** Option values of a select or radio block. */
export function optionValues(record: SlackViewRecord | undefined, blockId: string): string[] {
  return (formBlock(record, blockId)?.element?.options ?? []).map((option) => option.value);
}

/** Every text shown in the form (sections, contexts, labels). */
export function formText(record: SlackViewRecord | undefined): string {
  return formBlocks(record)
    .flatMap((block) => [
      block.label?.text ?? '',
      block.text?.text ?? '',
      ...(block.elements ?? []).map((element) =>
        typeof element.text === 'string' ? element.text : (element.text?.text ?? ''),
      ),
    ])
    .join('\n');
}

/** The newest record (views.open/update) of a view, or of any view. */
export function latestView(h: AppHarness, viewId?: string): SlackViewRecord | undefined {
  return h.slack
    .views()
    .filter((record) => viewId === undefined || record.id === viewId)
    .at(-1);
}

/** Waits for a views.open/update record after the first `after` records that satisfies `accept`. */
export function nextView(
  h: AppHarness,
  after: number,
  accept: (record: SlackViewRecord) => boolean,
  what: string,
  timeoutMs?: number,
): Promise<SlackViewRecord> {
  return eventually(() => h.slack.views().slice(after).find(accept), what, timeoutMs);
}

/** What a person filled in the form, as Slack puts it in `view.state.values`. */
export interface FormInput {
  /** `c:57` or `p:+14155550123`. */
  conversation?: string;
  kind?: 'text' | 'team' | 'whatsapp';
  text?: string;
  /** Team snippet name. */
  team?: string;
  /** `name|language`. */
  whatsapp?: string;
  /** Result channel (conversations_select). */
  channel?: string;
  /** Variable fields by key (`1`, `customer_name`, `header_media_url`, `button_0`, a snippet's placeholder). */
  vars?: Record<string, string>;
}

type StateValue = Record<string, unknown>;

export function formState(input: FormInput): Record<string, Record<string, StateValue>> {
  const values: Record<string, Record<string, StateValue>> = {};
  const selected = (value: string) => ({ text: { type: 'plain_text', text: value, emoji: true }, value });
  if (input.conversation !== undefined) {
    values['conversation'] = {
      conversation: { type: 'external_select', selected_option: selected(input.conversation) },
    };
  }
  if (input.kind !== undefined) {
    values['kind'] = { kind: { type: 'radio_buttons', selected_option: selected(input.kind) } };
  }
  if (input.text !== undefined) values['text'] = { text: { type: 'plain_text_input', value: input.text } };
  if (input.team !== undefined) {
    values['team_template'] = { team_template: { type: 'static_select', selected_option: selected(input.team) } };
  }
  if (input.whatsapp !== undefined) {
    values['wa_template'] = { wa_template: { type: 'static_select', selected_option: selected(input.whatsapp) } };
  }
  if (input.channel !== undefined) {
    values['channel'] = { channel: { type: 'conversations_select', selected_conversation: input.channel } };
  }
  for (const [key, value] of Object.entries(input.vars ?? {})) {
    values[`var:${key}`] = { [`var:${key}`]: { type: 'plain_text_input', value } };
  }
  return values;
}

function slackUser(user: { id: string; name: string } = SLACK_DEFAULTS.user) {
  return { id: user.id, username: user.name, name: user.name, team_id: SLACK_DEFAULTS.teamId };
}

function newTriggerId(): string {
  return `${Date.now()}.738474920.${Math.random().toString(16).slice(2, 21).padEnd(19, '0')}`;
}

/** The "Send WhatsApp message" global shortcut. */
export function globalShortcut(init: { triggerId?: string; user?: { id: string; name: string } } = {}): object {
  return {
    type: 'shortcut',
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    action_ts: (Date.now() / 1000).toFixed(6),
    team: { id: SLACK_DEFAULTS.teamId, domain: SLACK_DEFAULTS.teamDomain },
    user: slackUser(init.user),
    is_enterprise_install: false,
    enterprise: null,
    api_app_id: SLACK_DEFAULTS.appId,
    callback_id: 'send_whatsapp',
    trigger_id: init.triggerId ?? newTriggerId(),
  };
}

/** The "Send to WhatsApp" message shortcut on `message` in `channel`. */
export function messageShortcut(init: {
  channel: { id: string; name: string };
  message: { ts: string; text: string; user?: string; threadTs?: string };
  responseUrl: string;
  triggerId?: string;
  user?: { id: string; name: string };
}): object {
  return {
    type: 'message_action',
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    action_ts: (Date.now() / 1000).toFixed(6),
    team: { id: SLACK_DEFAULTS.teamId, domain: SLACK_DEFAULTS.teamDomain },
    user: slackUser(init.user),
    channel: init.channel,
    is_enterprise_install: false,
    enterprise: null,
    api_app_id: SLACK_DEFAULTS.appId,
    callback_id: 'send_to_whatsapp',
    trigger_id: init.triggerId ?? newTriggerId(),
    response_url: init.responseUrl,
    message_ts: init.message.ts,
    message: {
      type: 'message',
      user: init.message.user ?? SLACK_DEFAULTS.user.id,
      ts: init.message.ts,
      text: init.message.text,
      ...(init.message.threadTs === undefined ? {} : { thread_ts: init.message.threadTs }),
    },
  };
}

function viewJson(record: SlackViewRecord, values: Record<string, Record<string, StateValue>>) {
  return {
    id: record.id,
    team_id: SLACK_DEFAULTS.teamId,
    type: 'modal',
    blocks: record.view['blocks'] ?? [],
    private_metadata: String(record.view['private_metadata'] ?? ''),
    callback_id: String(record.view['callback_id'] ?? ''),
    state: { values },
    hash: record.hash,
    title: record.view['title'],
    clear_on_close: false,
    notify_on_close: record.view['notify_on_close'] === true,
    close: record.view['close'] ?? null,
    submit: record.view['submit'] ?? null,
    previous_view_id: null,
    root_view_id: record.id,
    app_id: SLACK_DEFAULTS.appId,
    external_id: '',
    app_installed_team_id: SLACK_DEFAULTS.teamId,
    bot_id: SLACK_DEFAULTS.botId,
  };
}

/** Typing in the form's conversation search (an external_select): the app answers `{ options }` in the ack. */
export function blockSuggestion(init: { view: SlackViewRecord; value: string; user?: { id: string; name: string } }) {
  return {
    type: 'block_suggestion',
    user: slackUser(init.user),
    container: { type: 'view', view_id: init.view.id },
    api_app_id: SLACK_DEFAULTS.appId,
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    action_id: 'conversation',
    block_id: 'conversation',
    value: init.value,
    team: { id: SLACK_DEFAULTS.teamId, domain: SLACK_DEFAULTS.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    view: viewJson(init.view, {}),
  };
}

/**
 * A `block_actions` inside the form: choosing a kind or template (`selected` = the option's value) or clicking
 * Preview / Refresh templates; `values` is everything filled in at that moment. Pass the latest record of the view
 * (its hash is what Slack sends; an older one makes the app's views.update fail with hash_conflict).
 */
export function viewAction(init: {
  view: SlackViewRecord;
  actionId: string;
  blockId?: string;
  selected?: string;
  values: Record<string, Record<string, StateValue>>;
  user?: { id: string; name: string };
}): object {
  const actionTs = (Date.now() / 1000).toFixed(6);
  const action =
    init.selected === undefined
      ? {
          type: 'button',
          action_id: init.actionId,
          block_id: init.blockId ?? 'tools',
          text: { type: 'plain_text', text: init.actionId, emoji: true },
          action_ts: actionTs,
        }
      : {
          type: init.actionId === 'kind' ? 'radio_buttons' : 'static_select',
          action_id: init.actionId,
          block_id: init.blockId ?? init.actionId,
          selected_option: { text: { type: 'plain_text', text: init.selected, emoji: true }, value: init.selected },
          action_ts: actionTs,
        };
  return {
    type: 'block_actions',
    user: slackUser(init.user),
    api_app_id: SLACK_DEFAULTS.appId,
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    container: { type: 'view', view_id: init.view.id },
    trigger_id: newTriggerId(),
    team: { id: SLACK_DEFAULTS.teamId, domain: SLACK_DEFAULTS.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    view: viewJson(init.view, init.values),
    actions: [action],
  };
}

/** Submitting the form as it is in `view` (the latest record), with these values. */
export function formSubmission(init: {
  view: SlackViewRecord;
  values: Record<string, Record<string, StateValue>>;
  user?: { id: string; name: string };
}): object {
  return {
    type: 'view_submission',
    team: { id: SLACK_DEFAULTS.teamId, domain: SLACK_DEFAULTS.teamDomain },
    user: slackUser(init.user),
    api_app_id: SLACK_DEFAULTS.appId,
    token: 'xyzz0WbapA4vBCDEFasx0q6G',
    trigger_id: newTriggerId(),
    view: viewJson(init.view, init.values),
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** Opens the form with the global shortcut and waits until the templates are loaded into it (views.update). */
export async function openSendForm(
  h: AppHarness,
  init: { triggerId?: string; user?: { id: string; name: string } } = {},
): Promise<{ opened: SlackViewRecord; loaded: SlackViewRecord; ack: Record<string, unknown> | undefined }> {
  const before = h.slack.views().length;
  const answer = await h.interactive(globalShortcut(init));
  if (answer.status !== 200) throw new Error(`the shortcut was answered with HTTP ${answer.status}`);
  const opened = await nextView(h, before, (record) => record.method === 'views.open', 'the form to open');
  const loaded = await nextView(
    h,
    before,
    (record) => record.method === 'views.update' && record.id === opened.id,
    'the form to be updated with the templates',
  );
  return { opened, loaded, ack: answer.body };
}

/** A change inside the form (kind, template, Preview, Refresh): waits for the app's views.update and returns it. */
export async function changeForm(
  h: AppHarness,
  init: Omit<Parameters<typeof viewAction>[0], 'view'> & { view?: SlackViewRecord; viewId: string },
): Promise<SlackViewRecord> {
  const view = init.view ?? latestView(h, init.viewId);
  if (view === undefined) throw new Error(`no view ${init.viewId}`);
  const before = h.slack.views().length;
  const answer = await h.interactive(viewAction({ ...init, view }));
  if (answer.status !== 200) throw new Error(`the action was answered with HTTP ${answer.status}`);
  return nextView(
    h,
    before,
    (record) => record.method === 'views.update' && record.id === init.viewId,
    `the form to be updated after ${init.actionId}`,
  );
}

// ---- Chatwoot's account webhook, pointed at the app.

/** The secret the app is given (CHATWOOT_WEBHOOK_SECRET) and the fake Chatwoot signs with. */
export const WEBHOOK_SECRET = 'whsec-e2e-3vJ8qL2mN5pR7tX9';

/** Registers the app's `/chatwoot/webhook` in the fake Chatwoot (message events), signed with `secret`. */
export function addAppWebhook(h: AppHarness, secret = WEBHOOK_SECRET): void {
  h.chatwoot.addWebhook({
    url: `${h.url}/chatwoot/webhook`,
    subscriptions: ['message_created', 'message_updated'],
    secret,
  });
}

/** Sends a request the fake built (a replay or a forgery) to the app's webhook endpoint. */
export async function postWebhook(
  h: AppHarness,
  request: FakeWebhookRequest,
): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const response = await fetch(`${h.url}/chatwoot/webhook`, {
    method: 'POST',
    headers: request.headers,
    body: request.body,
  });
  const raw = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>);
  } catch {
    body = { raw };
  }
  return { status: response.status, body };
}

/** `/readyz` as JSON. */
export async function readyz(h: AppHarness): Promise<Record<string, unknown>> {
  const response = await fetch(`${h.url}/readyz`);
  return (await response.json()) as Record<string, unknown>;
}

/**
 * Every text the first reply of a thread (the send's status reply) showed, oldest first: as posted, then each edit.
 */
export function statusHistory(h: AppHarness, channel: string, rootTs: string): string[] {
  const reply = h.slack.thread(channel, rootTs)[0];
  if (reply === undefined) return [];
  const posted = h.slack
    .calls('chat.postMessage')
    .find((call) => call.ok && call.args['channel'] === channel && call.args['thread_ts'] === rootTs);
  return [String(posted?.args['text'] ?? reply.text), ...reply.edits.map((edit) => edit.text)];
}
