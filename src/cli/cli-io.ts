import type { BridgeTuning } from '../bridge.ts';
import type { Env } from '../config/load-config.ts';
import type { Clock } from '../shared/clock.ts';
import type { SlackTuning } from '../slack/slack-app.ts';

/** Everything a CLI command touches outside itself, injected so tests run commands in-process. */
export interface CliIo {
  readonly env: Env;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  /** Starts listening for SIGTERM/SIGINT and resolves with the signal's name; only `start` calls it. */
  readonly waitForStop?: () => Promise<string>;
  /** Shorter waits and paces for tests; production uses the defaults. */
  readonly tuning?: { readonly bridge?: BridgeTuning; readonly slack?: SlackTuning };
}

export function line(stream: CliIo['stdout'], text: string): void {
  stream.write(`${text}\n`);
}
