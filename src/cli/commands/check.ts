import type { Bridge } from '../../bridge.ts';
import { type CheckStep, checkChatwoot } from '../../chatwoot/check-chatwoot.ts';
import type { Config } from '../../config/load-config.ts';
import type { Logger } from '../../shared/logger.ts';
import { openStore } from '../../store/open-store.ts';
import { describeStoreUrl } from '../../store/store-url.ts';
import type { Store } from '../../store/types.ts';
import { openTemplates } from '../../templates/templates-service.ts';
import { WEBHOOK_PATH } from '../../webhooks/chatwoot-webhook.ts';
import { type CliIo, line } from '../cli-io.ts';
import { EXIT, type ExitCode, exitCodeFor } from '../exit-codes.ts';
import { withScratchBridge } from '../scratch-bridge.ts';

const DEADLINE_MS = 15_000;

/** Which way delivery updates and answers arrive: Chatwoot's webhook (and when it last delivered), or polling alone. */
async function checkWebhook(config: Config, store: Store, now: number): Promise<CheckStep> {
  if (config.chatwoot.webhookSecret === undefined) {
    return {
      ok: true,
      label: 'Delivery updates',
      detail:
        'by polling Chatwoot (no CHATWOOT_WEBHOOK_SECRET): statuses within about a minute; set up the webhook for instant updates and answers in threads',
    };
  }
  const status = await store
    .namespace<unknown>('chatwoot-webhooks')
    .get('status')
    .catch(() => undefined);
  const lastAt =
    typeof status === 'object' && status !== null && typeof (status as { lastAt?: unknown }).lastAt === 'number'
      ? (status as { lastAt: number }).lastAt
      : undefined;
  return {
    ok: true,
    label: 'Delivery updates',
    detail:
      lastAt === undefined
        ? `Chatwoot's webhook at ${WEBHOOK_PATH} (polling as a safety net); none received yet: check its URL in Chatwoot (Settings → Integrations → Webhooks) and that Chatwoot may call it`
        : `Chatwoot's webhook at ${WEBHOOK_PATH} (polling as a safety net); last delivery ${new Date(lastAt).toISOString()} (${Math.round((now - lastAt) / 1000)} s ago)`,
  };
}

/** The team's templates file (as `start` reads it) and the approved templates in the WhatsApp inbox. */
async function checkTemplates(config: Config, bridge: Bridge, logger: Logger): Promise<CheckStep[]> {
  const steps: CheckStep[] = [];
  const scratch = await openStore('memory://', { logger });
  try {
    const opened = await openTemplates({
      config: { ...config, templates: { ...config.templates, cacheTtlMs: 0 } },
      bridge,
      store: scratch,
      logger,
    });
    if (!opened.ok) {
      return [{ ok: false, label: 'Team templates', detail: opened.problems.join(' | '), code: 'templates_invalid' }];
    }
    const { team, catalogue } = opened.templates;
    steps.push({
      ok: true,
      label: 'Team templates',
      detail:
        team.length === 0
          ? `none (${config.templates.file} not found; optional)`
          : `${team.length} in ${config.templates.file}`,
    });
    const approved = await catalogue.list({ lane: 'interactive', deadlineMs: DEADLINE_MS });
    steps.push({
      ok: true,
      label: 'WhatsApp templates',
      detail:
        approved.length === 0
          ? 'no approved template in the inbox: only customers who wrote in the last 24 hours can be messaged'
          : `${approved.length} approved (${approved
              .slice(0, 5)
              .map((template) => `${template.name}/${template.language}`)
              .join(', ')}${approved.length > 5 ? ', …' : ''})`,
    });
  } catch (error) {
    steps.push({
      ok: false,
      label: 'WhatsApp templates',
      detail: error instanceof Error ? error.message : String(error),
      code: 'chatwoot_unavailable',
    });
  } finally {
    await scratch.close();
  }
  return steps;
}

/**
 * `check`: configuration, Chatwoot reachable and its version, the token's user and role in the account, the
 * WhatsApp inbox, and the store. Prints one line per step; the exit code is the first failure's.
 */
export async function checkCommand(
  options: { json: boolean; warnings: readonly string[] },
  config: Config,
  io: CliIo,
  logger: Logger,
): Promise<ExitCode> {
  const steps: CheckStep[] = [{ ok: true, label: 'Configuration', detail: 'all variables valid' }];
  const warnings = [...options.warnings];
  const chatwoot = await withScratchBridge(config, io, logger, async (bridge) => {
    const result = await checkChatwoot(
      { client: bridge.client, inboxes: bridge.inboxes, baseUrl: config.chatwoot.baseUrl },
      { lane: 'interactive', deadlineMs: DEADLINE_MS },
    );
    return { ...result, templateSteps: result.ok ? await checkTemplates(config, bridge, logger) : [] };
  });
  steps.push(...chatwoot.steps, ...chatwoot.templateSteps);
  warnings.push(...chatwoot.warnings);
  const { version, role } = chatwoot;
  const storeLabel = describeStoreUrl(config.storeUrl);
  try {
    const store = await openStore(config.storeUrl, { logger, clock: io.clock });
    try {
      await store.ping();
      steps.push({ ok: true, label: 'Store', detail: `${storeLabel} is usable` });
      steps.push(await checkWebhook(config, store, io.clock.now()));
    } finally {
      await store.close();
    }
  } catch (error) {
    steps.push({
      ok: false,
      label: 'Store',
      detail: error instanceof Error ? error.message : String(error),
      code: 'store_unavailable',
    });
  }

  const failed = steps.find((step) => !step.ok);
  if (options.json) {
    line(io.stdout, JSON.stringify({ ok: failed === undefined, version, role, steps, warnings }));
  } else {
    for (const step of steps) line(io.stdout, `${step.ok ? '✓' : '✗'} ${step.label}: ${step.detail}`);
    for (const warning of warnings) line(io.stdout, `! ${warning}`);
  }
  return failed === undefined ? EXIT.ok : exitCodeFor(failed.code ?? 'internal_error');
}
