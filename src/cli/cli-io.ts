import type { Env } from '../config/load-config.ts';
import type { Clock } from '../shared/clock.ts';

/** Everything a CLI command touches outside itself, injected so tests run commands in-process. */
export interface CliIo {
  readonly env: Env;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  /** Starts listening for SIGTERM/SIGINT and resolves with the signal's name; only `start` calls it. */
  readonly waitForStop?: () => Promise<string>;
}

export function line(stream: CliIo['stdout'], text: string): void {
  stream.write(`${text}\n`);
}
