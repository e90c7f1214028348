import { type DestinationStream, pino } from 'pino';
import type { LogLevel } from '../config/load-config.ts';
import type { Logger } from '../shared/logger.ts';

/** Paths that may hold a secret anywhere in a log line; pino replaces their values. */
const REDACTED_PATHS = [
  'token',
  'apiAccessToken',
  'api_access_token',
  'authorization',
  'headers.api_access_token',
  'headers.authorization',
  '*.token',
  '*.apiAccessToken',
  '*.api_access_token',
  '*.authorization',
  '*.headers.api_access_token',
  '*.headers.authorization',
  'config.chatwoot.apiAccessToken',
  'config.chatwoot.webhookSecret',
  'config.slack.botToken',
  'config.slack.appToken',
  'config.slack.signingSecret',
];

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where JSON lines go; stdout by default. Tests pass a sink. */
  readonly destination?: DestinationStream;
  readonly name?: string;
}

/**
 * One pino root for the process. Conventions every module follows: errors under `err`, phone numbers masked
 * before they reach a log call, message text only at `trace`, never a token (the redaction is the safety net).
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name ?? 'slack-whatsapp-bridge',
      level: options.level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** Like pino's standard serializer, but keeps our errors' `code`/`details` and drops request objects with headers. */
function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const out: Record<string, unknown> = { type: value.name, message: value.message };
  for (const [key, field] of Object.entries(value)) {
    if (key === 'request' || key === 'response' || key === 'options') continue;
    out[key] = field;
  }
  if (value.stack !== undefined) out['stack'] = value.stack;
  if (value.cause !== undefined) out['cause'] = serializeError(value.cause);
  return out;
}
