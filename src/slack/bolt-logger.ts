import { format } from 'node:util';
import type { Logger as SlackLogger, LogLevel as SlackLogLevel } from '@slack/logger';
import type { Logger } from '../shared/logger.ts';

type SlackLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Bolt, the Web API client and the Socket Mode client log through this adapter into our pino root, as JSON.
 *
 * pino drops extra arguments that have no printf placeholder, and Bolt logs like `logger.error('failed', error)`:
 * the adapter folds every argument into the message and keeps the first Error under `err` (stack and all).
 * Bolt's `debug` lands at pino's `trace`, because at that level the Slack libraries log request bodies, and so
 * message text: by our convention that is only ever written at `trace`.
 */
export function boltLogger(root: Logger, name = 'slack'): SlackLogger {
  let base = root.child({ component: name });
  const emit =
    (level: SlackLevel) =>
    (...messages: unknown[]): void => {
      const error = messages.find((message): message is Error => message instanceof Error);
      const rest = messages.filter((message) => message !== error);
      const text = rest.length === 0 ? (error?.message ?? '') : format(...rest);
      const target = level === 'debug' ? 'trace' : level;
      if (error === undefined) base[target](text);
      else base[target]({ err: error }, text);
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    setLevel: (level: SlackLogLevel) => {
      // Only this adapter's child changes: Bolt must not turn the whole service's logging up or down.
      base.level = level === 'debug' ? 'trace' : level;
    },
    getLevel: () => toSlackLevel(base.level) as SlackLogLevel,
    setName: (newName: string) => {
      const level = base.level;
      base = root.child({ component: newName });
      base.level = level;
    },
  };
}

function toSlackLevel(level: string): SlackLevel {
  if (level === 'trace' || level === 'debug') return 'debug';
  if (level === 'info') return 'info';
  if (level === 'warn') return 'warn';
  return 'error';
}
