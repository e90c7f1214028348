#!/usr/bin/env node
import { systemClock } from '../shared/clock.ts';
import { runCli } from './run-cli.ts';

// The process edge: the only place that reads process.env, argv and signals.
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  clock: systemClock,
  waitForStop: () =>
    new Promise<string>((resolveStop) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolveStop(signal));
    }),
});
