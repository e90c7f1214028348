import { createLogger } from '../../src/log/create-logger.ts';
import type { Logger } from '../../src/shared/logger.ts';

export interface LogSink {
  readonly logger: Logger;
  /** Every line logged so far, parsed. */
  lines(): Array<Record<string, unknown>>;
  /** Everything logged so far, raw: for asserting that a secret appears nowhere. */
  text(): string;
}

/** A real pino logger writing JSON lines into memory (synchronously), as pino's own tests do. */
export function createLogSink(level: 'trace' | 'debug' | 'info' | 'warn' = 'trace'): LogSink {
  const chunks: string[] = [];
  const logger = createLogger({ level, destination: { write: (text: string) => chunks.push(text) } });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((row) => row.trim() !== '')
        .map((row) => JSON.parse(row) as Record<string, unknown>),
    text: () => chunks.join(''),
  };
}
