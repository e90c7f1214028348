import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  App,
  type BlockAction,
  type ButtonAction,
  HTTPReceiver,
  type Logger as SlackLogger,
  SocketModeReceiver,
} from '@slack/bolt';
import webApi from '@slack/web-api';
import type { Bridge } from '../bridge.ts';
import type { Config } from '../config/load-config.ts';
import { conversationUrl } from '../conversations/find-contacts.ts';
import { type SendRecord, sendingDone } from '../delivery/send-record.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { Store } from '../store/types.ts';
import type { Templates } from '../templates/templates-service.ts';
import { type Alert, type Alerter, type AlertItem, createAlerter } from './alerts.ts';
import { boltLogger } from './bolt-logger.ts';
import type { Links } from './render.ts';
import { createReplyPoller } from './reply-poller.ts';
import { registerRetry } from './retry-action.ts';
import { registerSendModal } from './send-modal.ts';
import { slackCallFrom } from './slack-call.ts';
import { createSlackPoster, type SlackPoster, type SlackPosterOptions } from './slack-poster.ts';
import { registerThreadReplies } from './thread-replies.ts';
import { createThreadReporter, type ThreadEntry, type ThreadReporter } from './thread-reporter.ts';
import { createWhatsAppCommand, FIND_SEND_ACTION_ID, type SlashCommand } from './whatsapp-command.ts';

/** A Slack setting or token that will not work; reported at startup with what to do. */
export class SlackStartError extends Error {
  override readonly name = 'SlackStartError';
  readonly code: 'unauthorized' | 'unavailable';
  constructor(code: 'unauthorized' | 'unavailable', message: string) {
    super(message);
    this.code = code;
  }
}

export interface SlackTuning {
  readonly poster?: Partial<Omit<SlackPosterOptions, 'call' | 'clock' | 'logger'>>;
  readonly alertGroupWindowMs?: number;
  /** How often conversations are read for customers' answers (default 60 s). */
  readonly replyPollMs?: number;
  /** Socket Mode ping timeouts (ms); Bolt's defaults are 5 s (client) and 30 s (server). */
  readonly clientPingTimeoutMs?: number;
  readonly serverPingTimeoutMs?: number;
}

export interface SlackAppDeps {
  readonly config: Pick<Config, 'chatwoot' | 'defaultPhoneRegion' | 'slack'>;
  readonly templates: Templates;
  readonly bridge: Bridge;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tuning?: SlackTuning;
}

export interface SlackApp {
  readonly mode: 'socket' | 'http';
  /** The workspace, as auth.test names it. */
  readonly team: string;
  /** HTTP mode: handles `POST /slack/events`; returns false for any other request. */
  handle(request: IncomingMessage, response: ServerResponse): boolean;
  /** Socket Mode: connected to Slack. HTTP mode: always (Slack calls us). */
  connected(): boolean;
  /** Catches up threads left behind by the last run, then (Socket Mode) connects. */
  start(): Promise<void>;
  /** Stops taking requests (Socket Mode disconnects). */
  stopReceiving(): Promise<void>;
  /** Posts what is still queued for Slack (up to `timeoutMs`), then stops. */
  stop(timeoutMs?: number): Promise<void>;
  /** Every thread and alert shows what is known now (tests). */
  idle(): Promise<void>;
  readonly poster: SlackPoster;
  readonly reporter: ThreadReporter;
}

interface AuthInfo {
  readonly userId: string;
  readonly botId: string;
  readonly team: string;
  readonly url: string;
}

/** auth.test with the bot token: a wrong token is reported now, clearly, not as an unhandled rejection later. */
async function verifyBotToken(config: SlackAppDeps['config'], logger: SlackLogger): Promise<AuthInfo> {
  const token = config.slack.botToken ?? '';
  const client = new webApi.WebClient(token, {
    slackApiUrl: config.slack.apiUrl,
    logger,
    retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 2_000 },
    timeout: 10_000,
  });
  try {
    const result = await client.auth.test();
    if (typeof result.user_id !== 'string' || typeof result.bot_id !== 'string') {
      throw new SlackStartError(
        'unauthorized',
        'SLACK_BOT_TOKEN is not a bot token (auth.test returned no bot): use the Bot User OAuth Token (xoxb-…) from OAuth & Permissions.',
      );
    }
    return { userId: result.user_id, botId: result.bot_id, team: result.team ?? '', url: result.url ?? '' };
  } catch (error) {
    if (error instanceof SlackStartError) throw error;
    const code = (error as { code?: string }).code;
    if (code === webApi.ErrorCode.PlatformError) {
      const reason = (error as { data?: { error?: string } }).data?.error ?? 'unknown';
      throw new SlackStartError(
        'unauthorized',
        `Slack refused SLACK_BOT_TOKEN (${reason}): copy the Bot User OAuth Token (xoxb-…) again from the app's OAuth & Permissions page; reinstall the app to the workspace if it was removed or its scopes changed.`,
      );
    }
    throw new SlackStartError(
      'unavailable',
      `Slack is not reachable at ${config.slack.apiUrl} (${error instanceof Error ? error.message : String(error)}): check the network (and SLACK_API_URL if you set it).`,
    );
  }
}

/**
 * The Slack side: Bolt in Socket Mode (SLACK_APP_TOKEN set) or HTTP mode (Slack posts to /slack/events on our
 * server). Commands are acknowledged at once; sends are reported in threads by the reporter, failures in alerts.
 */
export async function createSlackApp(deps: SlackAppDeps): Promise<SlackApp> {
  const { config, bridge, store, clock, logger } = deps;
  const tuning = deps.tuning ?? {};
  const slackLogger = boltLogger(logger, 'slack');
  const auth = await verifyBotToken(config, slackLogger);
  const clientOptions = {
    slackApiUrl: config.slack.apiUrl,
    // We pace and retry ourselves (the poster): a 429 must come back to us, not stall every call.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 15_000,
  };
  const mode = config.slack.appToken === undefined ? 'http' : 'socket';
  let socketConnected = false;
  const receiver =
    mode === 'socket'
      ? new SocketModeReceiver({
          appToken: config.slack.appToken ?? '',
          logger: slackLogger,
          installerOptions: { clientOptions: { slackApiUrl: config.slack.apiUrl } },
          ...(tuning.clientPingTimeoutMs === undefined ? {} : { clientPingTimeout: tuning.clientPingTimeoutMs }),
          ...(tuning.serverPingTimeoutMs === undefined ? {} : { serverPingTimeout: tuning.serverPingTimeoutMs }),
        })
      : new HTTPReceiver({
          signingSecret: config.slack.signingSecret ?? '',
          endpoints: '/slack/events',
          logger: slackLogger,
          // Bolt would answer an unacknowledged request with 404 after 3 s; we always ack well before.
        });
  if (receiver instanceof SocketModeReceiver) {
    receiver.client.on('connected', () => {
      socketConnected = true;
      logger.info('connected to Slack (Socket Mode)');
    });
    // A dropped socket emits only 'close' until the reconnect starts (after clientPingTimeout): not ready meanwhile.
    for (const event of ['disconnected', 'disconnecting', 'close']) {
      receiver.client.on(event, () => {
        socketConnected = false;
      });
    }
    receiver.client.on('reconnecting', () => {
      socketConnected = false;
      logger.warn('reconnecting to Slack (Socket Mode)');
    });
  }
  const app = new App({
    token: config.slack.botToken ?? '',
    botId: auth.botId,
    botUserId: auth.userId,
    receiver,
    logger: slackLogger,
    clientOptions,
    // Bolt's conversation store is unused here and costs a lookup per request.
    convoStore: false,
  });

  const links: Links = {
    conversation: (conversationId) => conversationUrl(config, conversationId),
    message: (channel, ts, threadTs) => {
      if (auth.url === '') return undefined;
      const base = auth.url.endsWith('/') ? auth.url : `${auth.url}/`;
      const link = `${base}archives/${channel}/p${ts.replace('.', '')}`;
      return threadTs === undefined ? link : `${link}?thread_ts=${threadTs}&cid=${channel}`;
    },
  };
  const poster = createSlackPoster({ call: slackCallFrom(app.client), clock, logger, ...tuning.poster });
  const alerter: Alerter = createAlerter({
    poster,
    channel: config.slack.alertChannel,
    alerts: store.namespace<Alert>('slack-alerts'),
    queue: store.namespace<AlertItem>('slack-alert-queue'),
    links,
    clock,
    logger,
    ...(tuning.alertGroupWindowMs === undefined ? {} : { groupWindowMs: tuning.alertGroupWindowMs }),
  });
  const respondTo = async (url: string, body: Record<string, unknown>): Promise<void> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`response_url answered ${response.status}`);
  };
  const reporter = createThreadReporter({
    bridge,
    poster,
    threads: store.namespace<ThreadEntry>('slack-threads'),
    conversations: store.namespace<unknown>('slack-conversation-threads'),
    links,
    clock,
    logger,
    respond: (url, message) => respondTo(url, { ...message }),
    onFailed: (record, entry) => alerter.failed(record, entry),
  });
  const stopAudit = bridge.onChange((record, previous) => audit(logger, record, previous));
  // Customers' answers, also without a webhook: conversations the bridge sent to are read for new incoming messages.
  const replies = createReplyPoller({
    client: bridge.client,
    resolver: bridge.resolver,
    reporter,
    watches: store.namespace<unknown>('slack-reply-watches'),
    clock,
    logger,
    webhooksHealthy: () => bridge.webhooksHealthy(),
    ...(tuning.replyPollMs === undefined ? {} : { intervalMs: tuning.replyPollMs }),
  });
  const stopReplyWatch = bridge.onChange((record) => {
    const conversationId = record.conversation?.id;
    if (conversationId === undefined || record.content.kind === 'note') return;
    const ids = record.parts.flatMap((part) => (part.messageId === undefined ? [] : [part.messageId]));
    if (ids.length > 0) replies.watch(conversationId, Math.max(...ids));
  });

  const names = new Map<string, { name: string; at: number }>();
  const userNames = async (ids: readonly string[]): Promise<Record<string, string>> => {
    const found: Record<string, string> = {};
    const lookups = ids.slice(0, 20).map(async (id) => {
      const cached = names.get(id);
      if (cached !== undefined && clock.now() - cached.at < 60 * 60_000) {
        found[id] = cached.name;
        return;
      }
      const result = await app.client.users.info({ user: id });
      const profile = result.user?.profile;
      const name = profile?.display_name || profile?.real_name || result.user?.real_name || result.user?.name;
      if (name !== undefined && name !== '') {
        names.set(id, { name, at: clock.now() });
        found[id] = name;
      }
    });
    // A name is a nicety: never let it hold the acknowledgement up for long.
    const timeout = new AbortController();
    await Promise.race([Promise.allSettled(lookups), clock.sleep(1_000, timeout.signal).catch(() => undefined)]);
    timeout.abort();
    return { ...found };
  };

  const command = createWhatsAppCommand({
    config,
    templates: deps.templates,
    bridge,
    reporter,
    userNames,
    clock,
    logger,
  });
  app.command(/^\/.+/, async ({ command: body, ack, respond }) => {
    await command(
      body as SlashCommand,
      async (reply) => {
        await ack(reply === undefined ? undefined : { ...reply, blocks: reply.blocks as never });
      },
      async (reply) => {
        await respond({ ...reply, blocks: reply.blocks as never });
      },
    );
  });

  const form = registerSendModal(app, {
    config,
    bridge,
    reporter,
    catalogue: deps.templates.catalogue,
    teamTemplates: deps.templates.team,
    isAdministrator: deps.templates.isAdministrator,
    releaseRetry: (alertTs, sendId) => alerter.release(alertTs, sendId),
    userNames,
    logger,
  });
  registerThreadReplies(app, {
    config,
    bridge,
    reporter,
    poster,
    botUserId: auth.userId,
    forwarded: store.namespace<string>('slack-forwarded'),
    logger,
  });
  registerRetry(app, { config, bridge, reporter, alerter, logger, openForm: form.open });
  app.action<BlockAction<ButtonAction>>(FIND_SEND_ACTION_ID, async ({ ack, body, action }) => {
    await ack();
    const conversationId = Number(action.value);
    const channel = body.channel?.id ?? (body.container?.['channel_id'] as string | undefined);
    await form.open(body.trigger_id, {
      conversation: { value: `c:${conversationId}`, label: `Conversation #${conversationId}` },
      ...(channel === undefined ? {} : { channel }),
      ...(body.response_url === undefined ? {} : { responseUrl: body.response_url }),
    });
  });

  app.error(async (error) => {
    logger.error({ err: error }, 'a Slack request failed');
  });

  return {
    mode,
    team: auth.team,
    handle: (request, response) => {
      if (!(receiver instanceof HTTPReceiver)) return false;
      const path = (request.url ?? '/').split('?')[0];
      if (path !== '/slack/events') return false;
      receiver.requestListener(request, response);
      return true;
    },
    connected: () => (mode === 'http' ? true : socketConnected),
    start: async () => {
      // Warm the approved templates, so the first /whatsapp template or form does not wait for Chatwoot.
      void deps.templates.catalogue
        .list({ lane: 'background' })
        .catch((error: unknown) => logger.warn({ err: error }, 'could not read the approved templates yet'));
      await replies.start();
      const alerts = await alerter.resume();
      if (alerts > 0) logger.info({ failures: alerts }, 'posting failure alerts left from the last run');
      const resumed = await reporter.resume();
      if (resumed > 0) logger.info({ threads: resumed }, 'bringing Slack threads up to date');
      if (receiver instanceof SocketModeReceiver) {
        try {
          await app.start();
        } catch (error) {
          const reason = (error as { data?: { error?: string } }).data?.error;
          throw new SlackStartError(
            reason === undefined ? 'unavailable' : 'unauthorized',
            reason === undefined
              ? `Could not connect to Slack in Socket Mode: ${error instanceof Error ? error.message : String(error)}.`
              : `Slack refused SLACK_APP_TOKEN (${reason}): create an app-level token with the connections:write scope (Basic Information → App-Level Tokens) and enable Socket Mode in the app settings.`,
          );
        }
      }
    },
    stopReceiving: async () => {
      if (receiver instanceof SocketModeReceiver) await app.stop().catch(() => undefined);
    },
    stop: async (timeoutMs = 5_000) => {
      stopAudit();
      stopReplyWatch();
      replies.stop();
      const timeout = new AbortController();
      await Promise.race([reporter.idle(), clock.sleep(timeoutMs, timeout.signal).catch(() => undefined)]);
      timeout.abort();
      // Alerts still waiting for their group window go out now (they are stored too, for a crash).
      await alerter.flushNow();
      await poster.drain(timeoutMs);
      reporter.stop();
      alerter.stop();
      poster.close();
    },
    idle: async () => {
      await reporter.idle();
      await alerter.idle();
      await poster.drain();
      await reporter.idle();
    },
    poster,
    reporter,
  };
}

/** One audit line per send outcome: who, where, to which conversation, which message, the outcome, the length. */
function audit(logger: Logger, record: SendRecord, previous: SendRecord | undefined): void {
  const done = sendingDone(record);
  const wasDone = previous !== undefined && sendingDone(previous);
  const failedNow = record.state === 'failed' && previous?.state !== 'failed';
  if (!(done && !wasDone) && !failedNow) return;
  logger.info(
    {
      audit: true,
      sendId: record.id,
      via: record.requestedBy.via,
      slackUser: record.requestedBy.userId,
      slackChannel: record.requestedBy.channelId,
      conversationId: record.conversation?.id,
      messageIds: record.parts.flatMap((part) => (part.messageId === undefined ? [] : [part.messageId])),
      outcome: record.state === 'failed' ? 'failed' : record.content.kind === 'note' ? 'note_added' : record.state,
      failure: record.failure?.code,
      kind: record.content.kind,
      textLength: 'text' in record.content ? record.content.text.length : undefined,
    },
    'audit: send outcome',
  );
}
