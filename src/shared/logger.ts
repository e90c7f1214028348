import type { Logger as PinoLogger } from 'pino';

/** The structured logger every module receives; pino underneath. */
export type Logger = PinoLogger;
