import { type CheckStep, checkChatwoot } from '../../chatwoot/check-chatwoot.ts';
import type { Config } from '../../config/load-config.ts';
import type { Logger } from '../../shared/logger.ts';
import { openStore } from '../../store/open-store.ts';
import { describeStoreUrl } from '../../store/store-url.ts';
import { type CliIo, line } from '../cli-io.ts';
import { EXIT, type ExitCode, exitCodeFor } from '../exit-codes.ts';
import { withScratchBridge } from '../scratch-bridge.ts';

const DEADLINE_MS = 15_000;

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
  const chatwoot = await withScratchBridge(config, io, logger, (bridge) =>
    checkChatwoot(
      { client: bridge.client, inboxes: bridge.inboxes, baseUrl: config.chatwoot.baseUrl },
      { lane: 'interactive', deadlineMs: DEADLINE_MS },
    ),
  );
  steps.push(...chatwoot.steps);
  warnings.push(...chatwoot.warnings);
  const { version, role } = chatwoot;
  const storeLabel = describeStoreUrl(config.storeUrl);
  try {
    const store = await openStore(config.storeUrl, { logger, clock: io.clock });
    try {
      await store.ping();
      steps.push({ ok: true, label: 'Store', detail: `${storeLabel} is usable` });
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
