import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pino } from 'pino';
import type { Clock } from '../../src/shared/clock.ts';
import type { Logger } from '../../src/shared/logger.ts';

export const silentLogger: Logger = pino({ level: 'silent' });

/** Time that only moves when the code under test sleeps (each sleep yields to the event loop once). */
export class FakeClock implements Clock {
  #now: number;

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.#now += Math.max(0, ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every few ms until it holds, or fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await wait(5);
  }
}

export function makeTempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'bridge-store-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------- redis-server

export const skipRedisTests = process.env['SKIP_REDIS_TESTS'] === '1';

/** REDIS_SERVER_BIN overrides the search (e.g. to check the message shown when the binary is missing). */
export function findRedisServer(): string | undefined {
  const explicit = process.env['REDIS_SERVER_BIN'];
  if (explicit !== undefined && explicit !== '') {
    return existsSync(explicit) ? explicit : undefined;
  }
  const candidates = [
    '/usr/bin/redis-server',
    ...(process.env['PATH'] ?? '').split(delimiter).map((dir) => join(dir, 'redis-server')),
  ];
  return candidates.find((candidate) => candidate !== 'redis-server' && existsSync(candidate));
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections stay open but nothing answers. */
  freeze(frozen: boolean): void;
}

/** Starts a throw-away redis-server on a free port (no persistence) and waits until it answers PING. */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const binary = findRedisServer();
  if (binary === undefined) {
    throw new Error(
      'redis-server is not installed, so the Redis store tests cannot run. Install it (e.g. `apt-get install redis-server`; CI installs it) ' +
        'or set SKIP_REDIS_TESTS=1 to skip them explicitly.',
    );
  }
  const port = await freePort();
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      tmpdir(),
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 5_000;
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    await wait(10);
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    freeze: (frozen) => {
      child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
  };
}

/** Sends one raw RESP command and returns the first reply line. */
export function rawRedisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const command = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('raw Redis command timed out')));
    socket.once('error', reject);
    socket.on('connect', () => socket.write(command));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.split('\r\n')[0] ?? '');
      }
    });
  });
}

/** Any RESP reply counts: a server with `requirepass` answers PING with -NOAUTH. */
async function answersPing(port: number): Promise<boolean> {
  try {
    return /^[+-]/.test(await rawRedisCommand(port, 'PING'));
  } catch {
    return false;
  }
}
