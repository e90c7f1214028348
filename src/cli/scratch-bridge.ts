import { type Bridge, type BridgeTuning, createBridge } from '../bridge.ts';
import type { Config } from '../config/load-config.ts';
import type { Logger } from '../shared/logger.ts';
import { openStore } from '../store/open-store.ts';
import type { CliIo } from './cli-io.ts';

/**
 * Runs a one-off command on its own bridge with state in memory: the running bot's store (and its lease) is left
 * alone, so the CLI works next to it. Everything is stopped and closed afterwards.
 */
export async function withScratchBridge<T>(
  config: Config,
  io: CliIo,
  logger: Logger,
  run: (bridge: Bridge) => Promise<T>,
  tuning?: BridgeTuning,
): Promise<T> {
  const store = await openStore('memory://', { logger, clock: io.clock });
  const bridge = createBridge({
    config,
    store,
    clock: io.clock,
    logger,
    ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
    ...(tuning === undefined ? {} : { tuning }),
  });
  try {
    return await run(bridge);
  } finally {
    await bridge.stop(5_000);
    await store.close();
  }
}
