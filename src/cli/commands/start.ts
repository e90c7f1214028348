import type { Server } from 'node:http';
import { createBridge } from '../../bridge.ts';
import { type ChatwootCheck, checkChatwoot } from '../../chatwoot/check-chatwoot.ts';
import type { Config } from '../../config/load-config.ts';
import { startHealthServer } from '../../http/health-server.ts';
import type { Logger } from '../../shared/logger.ts';
import { createSlackApp, type SlackApp, SlackStartError } from '../../slack/slack-app.ts';
import { slackFileSource } from '../../slack/slack-files.ts';
import { openStore, StoreOpenError } from '../../store/open-store.ts';
import { acquireProcessLease, LeaseHeldError } from '../../store/process-lease.ts';
import { openTemplates } from '../../templates/templates-service.ts';
import { createWebhookProcessor } from '../../webhooks/apply-webhook.ts';
import { createWebhookReceiver, type WebhookReceiver } from '../../webhooks/chatwoot-webhook.ts';
import { type CliIo, line } from '../cli-io.ts';
import { EXIT, type ExitCode, exitCodeFor } from '../exit-codes.ts';

const STARTUP_CHECK_DEADLINE_MS = 10_000;
const RECHECK_EVERY_MS = 60_000;
const SHUTDOWN_GRACE_MS = 10_000;
/** After the bridge stopped: how long threads may take to show the final states (the rest catches up at the next start). */
const SLACK_DRAIN_MS = 5_000;

/**
 * `start`: runs the bridge until SIGTERM/SIGINT. Refuses to start on a store another live process uses; reports a
 * bad token or account at once; starts anyway (degraded) when Chatwoot is down, because stored sends wait for it.
 */
export async function startCommand(config: Config, io: CliIo, logger: Logger): Promise<ExitCode> {
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(config.storeUrl, { logger, clock: io.clock });
  } catch (error) {
    if (!(error instanceof StoreOpenError)) throw error;
    line(io.stderr, error.message);
    return EXIT.unavailable;
  }
  let lease: Awaited<ReturnType<typeof acquireProcessLease>>;
  try {
    lease = await acquireProcessLease(store, { logger, clock: io.clock });
  } catch (error) {
    await store.close();
    if (!(error instanceof LeaseHeldError)) throw error;
    line(io.stderr, error.message);
    return EXIT.storeInUse;
  }

  const bridge = createBridge({
    config,
    store,
    clock: io.clock,
    logger,
    ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
    ...(io.tuning?.bridge === undefined ? {} : { tuning: io.tuning.bridge }),
    files: slackFileSource({ botToken: config.slack.botToken ?? '' }),
  });
  let leaseLost = false;
  const lost = new Promise<string>((resolveLost) => {
    lease.onLost((by) => {
      leaseLost = true;
      logger.fatal({ holder: by }, 'another process took over the store: stopping all sends to avoid duplicates');
      bridge.halt();
      resolveLost('store lease lost');
    });
  });

  let chatwoot: ChatwootCheck | undefined;
  const runCheck = async (): Promise<ChatwootCheck> => {
    const result = await checkChatwoot(
      { client: bridge.client, inboxes: bridge.inboxes, baseUrl: config.chatwoot.baseUrl },
      { lane: 'interactive', deadlineMs: STARTUP_CHECK_DEADLINE_MS },
    );
    chatwoot = result;
    return result;
  };
  const first = await runCheck();
  for (const warning of first.warnings) logger.warn({ warning }, 'chatwoot check');
  const refused = first.steps.find((step) => !step.ok);
  if (refused !== undefined && !first.unreachable) {
    // A wrong token, account or inbox will not fix itself: say so now, not on every send.
    line(io.stderr, `${refused.label}: ${refused.detail}`);
    await lease.release();
    await store.close();
    return exitCodeFor(refused.code ?? 'internal_error');
  }
  if (first.unreachable) {
    logger.warn(
      { detail: refused?.detail },
      'chatwoot is not reachable; starting anyway: sends wait in the store until it answers',
    );
  }

  const templates = await openTemplates({ config, bridge, store, logger });
  if (!templates.ok) {
    line(
      io.stderr,
      `The templates file has ${templates.problems.length === 1 ? 'a problem' : `${templates.problems.length} problems`} (TEMPLATES_FILE):\n${templates.problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
    await lease.release();
    await store.close();
    return EXIT.config;
  }

  let slack: SlackApp;
  try {
    slack = await createSlackApp({
      config,
      templates: templates.templates,
      bridge,
      store,
      clock: io.clock,
      logger,
      ...(io.tuning?.slack === undefined ? {} : { tuning: io.tuning.slack }),
    });
  } catch (error) {
    await lease.release();
    await store.close();
    if (!(error instanceof SlackStartError)) throw error;
    line(io.stderr, error.message);
    return error.code === 'unauthorized' ? EXIT.unauthorized : EXIT.unavailable;
  }

  // Chatwoot's webhook (when its secret is set): delivery updates and customers' answers, pushed; polling stays the net.
  const webhook =
    config.chatwoot.webhookSecret === undefined
      ? undefined
      : createWebhookReceiver({
          secret: config.chatwoot.webhookSecret,
          deliveries: store.namespace<unknown>('chatwoot-webhooks'),
          clock: io.clock,
          logger,
          onMessage: createWebhookProcessor({
            bridge,
            onCustomerMessage: async (message) => {
              await slack.reporter.postCustomerMessage(message);
            },
            logger,
          }),
        });

  const { resumed } = await bridge.start();
  let server: Server;
  try {
    server = await startHealthServer(
      {
        readiness: async () => {
          const storeOk = await store.ping().then(
            () => true,
            () => false,
          );
          return {
            ready: storeOk && !leaseLost && slack.connected(),
            store: storeOk ? 'ok' : 'unavailable',
            chatwoot: chatwoot?.ok === true ? 'ok' : chatwoot?.unreachable === true ? 'unreachable' : 'degraded',
            chatwootVersion: chatwoot?.version,
            slack: { mode: slack.mode, connected: slack.connected() },
            webhook: await webhookState(webhook, io.clock.now()),
            queue: bridge.stats().outbox,
          };
        },
      },
      {
        port: config.port,
        logger,
        next: (request, response) => webhook?.handle(request, response) === true || slack.handle(request, response),
      },
    );
  } catch (error) {
    line(
      io.stderr,
      `Cannot listen on port ${config.port}: ${error instanceof Error ? error.message : String(error)}. Set PORT to a free port.`,
    );
    await bridge.stop(SHUTDOWN_GRACE_MS);
    await slack.stop(0);
    await lease.release();
    await store.close();
    return EXIT.config;
  }
  try {
    await slack.start();
  } catch (error) {
    if (!(error instanceof SlackStartError)) throw error;
    line(io.stderr, error.message);
    await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    await bridge.stop(SHUTDOWN_GRACE_MS);
    await slack.stop(0);
    await lease.release();
    await store.close();
    return error.code === 'unauthorized' ? EXIT.unauthorized : EXIT.unavailable;
  }
  const recheck = setInterval(() => {
    runCheck().catch((error: unknown) => logger.warn({ err: error }, 'chatwoot re-check failed'));
  }, RECHECK_EVERY_MS);
  recheck.unref();
  logger.info(
    {
      port: config.port,
      store: store.description,
      resumed,
      chatwoot: first.ok ? first.version : 'unreachable',
      slack: { mode: slack.mode, team: slack.team },
    },
    'bridge ready',
  );

  const reason = await Promise.race([io.waitForStop?.() ?? new Promise<string>(() => undefined), lost]);
  logger.info({ reason }, 'shutting down: finishing what is in flight; everything else stays stored');
  clearInterval(recheck);
  // Stop taking work first (Slack gets no new requests in), then finish what is in flight and report it.
  await slack.stopReceiving();
  await new Promise<void>((resolveClose) => {
    server.close(() => resolveClose());
    server.closeIdleConnections();
  });
  await webhook?.idle();
  await bridge.stop(SHUTDOWN_GRACE_MS);
  await slack.stop(SLACK_DRAIN_MS);
  await lease.release();
  await store.close();
  logger.info('stopped');
  return leaseLost ? EXIT.storeInUse : EXIT.ok;
}

/** For /readyz and `check`: whether Chatwoot's webhook is set up, and when it last delivered. */
async function webhookState(
  webhook: WebhookReceiver | undefined,
  now: number,
): Promise<{ configured: boolean; lastDeliveryAt?: string; secondsAgo?: number; deliveries?: number }> {
  if (webhook === undefined) return { configured: false };
  const status = await webhook.status().catch(() => undefined);
  if (status === undefined) return { configured: true };
  return {
    configured: true,
    lastDeliveryAt: new Date(status.lastAt).toISOString(),
    secondsAgo: Math.round((now - status.lastAt) / 1000),
    deliveries: status.count,
  };
}
