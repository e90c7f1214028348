import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as delay } from 'node:timers/promises';
import { runCli } from '../src/cli/run-cli.ts';
import { systemClock } from '../src/shared/clock.ts';
import { IpcChild } from './ipc-child.ts';
import type {
  AckRun,
  ChatwootStats,
  PlannedSend,
  SentAck,
  SlackSideSetup,
  ThreadTiming,
} from './slack-side-process.ts';

/**
 * The Slack scenarios: the real `start` command (Bolt in HTTP mode, the durable SQLite store, production tuning:
 * nothing injected but the environment) runs in this process alone; the fake Slack, the fake Chatwoot and the load
 * generator playing Slack run in another (slack-side-process.ts), so this process's RSS, CPU and event loop are the
 * app's own, and an ack's latency is measured the way Slack sees it: over real HTTP, from outside the process.
 */

const SLACK_SIDE = new URL('./slack-side-process.ts', import.meta.url);

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN, count: sorted.length };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  await new Promise((resolveClose) => server.close(resolveClose));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

interface RunningApp {
  readonly url: string;
  /** The store the app says it opened (from its `bridge ready` log line). */
  readonly store: string;
  /** Log lines written, and the first warnings/errors. */
  readonly log: { lines: number; problems: string[] };
  /** SIGTERM; resolves whether it stopped within `timeoutMs` (the first call's; later calls share it). */
  stop(timeoutMs: number): Promise<boolean>;
}

/** Starts `slack-whatsapp-bridge start` in this process, as production would (only the environment differs). */
async function startApp(env: Record<string, string>): Promise<RunningApp> {
  const port = await freePort();
  const log = { lines: 0, problems: [] as string[] };
  let store = '?';
  let stderr = '';
  let stopNow = (): void => undefined;
  const stopSignal = new Promise<string>((resolveStop) => {
    stopNow = () => resolveStop('SIGTERM');
  });
  const exited = runCli(['start'], {
    env: { LOG_LEVEL: 'info', ...env, PORT: String(port) },
    // The JSON log goes nowhere, but pino still formats every line, as in production.
    stdout: {
      write: (text: string) => {
        log.lines += 1;
        if (text.includes('"msg":"bridge ready"')) store = String((JSON.parse(text) as { store?: unknown }).store);
        else if (/"level":(40|50|60)/.test(text) && log.problems.length < 10) log.problems.push(text.slice(0, 300));
      },
    },
    stderr: { write: (text: string) => (stderr += text) },
    clock: systemClock,
    waitForStop: () => stopSignal,
  });
  let finished = false;
  void exited.finally(() => {
    finished = true;
  });
  let stopping: Promise<boolean> | undefined;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (finished || Date.now() > deadline)
      throw new Error(`the app did not start: ${stderr || log.problems.join('\n')}`);
    await delay(20);
  }
  return {
    url,
    store,
    log,
    stop: (timeoutMs) => {
      stopNow();
      stopping ??= Promise.race([exited.then(() => true), delay(timeoutMs).then(() => false)]);
      return stopping;
    },
  };
}

/** How many send records the store file holds (read after the app stopped). */
function storedSends(path: string): number {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const row = db.prepare("SELECT count(*) AS n FROM keyv WHERE key >= 'sends:' AND key < 'sends;'").get();
      return Number(row?.['n'] ?? 0);
    } finally {
      db.close();
    }
  } catch {
    return Number.NaN;
  }
}

/**
 * `BENCH_PROFILE=<dir>`: a CPU profile of the app's process over the measured phase only, written to
 * `<dir>/<name>-<pid>.cpuprofile` (open it in Chrome DevTools or VS Code). Returns the function that stops it.
 */
async function profileIfAsked(name: string): Promise<() => Promise<void>> {
  const dir = process.env['BENCH_PROFILE'];
  if (dir === undefined || dir === '') return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${name}-${process.pid}.cpuprofile`);
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
    console.error(`CPU profile of the measured phase: ${path}`);
  };
}

const channelIds = (count: number, from = 1) =>
  Array.from({ length: count }, (_, index) => `C0BENCH${String(from + index).padStart(3, '0')}`);

/**
 * Ack latency: 1,000 `/whatsapp send` commands in bursts of 20 sent at once (the next burst 100 ms after the last
 * ack), across 5 channels and 50 conversations, each with its own trigger_id, while Chatwoot takes 2 s to answer
 * anything: sends pile up behind it. An ack is the HTTP response to the signed POST /slack/events.
 */
export async function ackLatency(options: { total?: number; concurrency?: number; pauseMs?: number } = {}) {
  const total = options.total ?? 1_000;
  const concurrency = options.concurrency ?? 20;
  const pauseMs = options.pauseMs ?? 100;
  const warmup = 20;
  const side = await IpcChild.start(SLACK_SIDE, {});
  const dir = mkdtempSync(join(tmpdir(), 'bridge-bench-slack-'));
  const storePath = join(dir, 'bridge.sqlite');
  try {
    const setup = await side.call<SlackSideSetup>({ cmd: 'setup', channels: channelIds(5), conversations: 50 });
    const app = await startApp({
      ...setup.env,
      STORE_URL: `sqlite://${storePath}`,
      // High enough never to be the limit: the 2 s answers are.
      CHATWOOT_REQUESTS_PER_MINUTE: '100000',
    });
    try {
      // Slow only now: the startup check ran at full speed.
      await side.call({ cmd: 'latency', ms: 2_000 });
      const cold = await side.call<AckRun>({
        cmd: 'acks',
        url: app.url,
        total: warmup,
        concurrency,
        pauseMs: 0,
        tag: 'W',
      });
      const before = process.memoryUsage();
      const baseline = before.rss;
      let peak = baseline;
      let peakHeap = before.heapUsed;
      const sampler = setInterval(() => {
        const now = process.memoryUsage();
        peak = Math.max(peak, now.rss);
        peakHeap = Math.max(peakHeap, now.heapUsed);
      }, 20);
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const profile = await profileIfAsked('ack');
      const cpuBefore = process.cpuUsage();
      const run = await side.call<AckRun>({ cmd: 'acks', url: app.url, total, concurrency, pauseMs, tag: 'A' });
      const cpu = process.cpuUsage(cpuBefore);
      await profile();
      loop.disable();
      // The app goes on posting threads and sending after the last ack: keep sampling a little.
      await delay(1_000);
      clearInterval(sampler);
      const readiness = (await fetch(`${app.url}/readyz`).then((response) => response.json())) as {
        queue?: { queued?: number; inProgress?: number };
      };
      const chatwoot = await side.call<ChatwootStats>({ cmd: 'chatwoot' });
      const slack = await side.call<{ rateLimited: number; posts: number; userLookups: number }>({ cmd: 'slack' });
      // Sends in flight hold the stop up (Chatwoot's 2 s); the store is read either way (WAL: readers see commits).
      await app.stop(3_000);
      return {
        commands: run.latencies.length,
        ack: percentiles(run.latencies),
        coldMaxMs: percentiles(cold.latencies).max,
        failed: run.failed + cold.failed,
        failures: [...cold.failures, ...run.failures],
        seconds: run.seconds,
        store: app.store,
        storedSends: storedSends(storePath),
        cpuMsPerCommand: (cpu.user + cpu.system) / 1000 / run.latencies.length,
        loopDelayP99Ms: loop.percentile(99) / 1e6,
        loopDelayMaxMs: loop.max / 1e6,
        peakMb: peak / 2 ** 20,
        baselineMb: baseline / 2 ** 20,
        heapBeforeMb: before.heapUsed / 2 ** 20,
        peakHeapMb: peakHeap / 2 ** 20,
        outboxQueued: readiness.queue?.queued ?? Number.NaN,
        outboxInProgress: readiness.queue?.inProgress ?? Number.NaN,
        chatwootRequests: chatwoot.requests,
        chatwootPending: chatwoot.pending,
        chatwootAnsweredSlow: chatwoot.durations.filter((ms) => ms >= 2_000).length,
        chatwootAnsweredFast: chatwoot.durations.filter((ms) => ms < 2_000).length,
        chatwootMessagePosts: chatwoot.messagePosts,
        slackPosts: slack.posts,
        slackRateLimited: slack.rateLimited,
        logLines: app.log.lines,
        logProblems: app.log.problems,
      };
    } finally {
      await app.stop(3_000);
    }
  } finally {
    await side.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Ack → thread result: with Chatwoot answering in 50 ms and Slack paced as in production (1 post per 1.1 s per
 * channel, updates 50/min) against a fake Slack with real Slack's limits, the time from the ack to the moment Slack
 * receives the status reply showing the send accepted (or further). 50 sends, one every 500 ms, round robin over 5
 * channels (each channel idle again when its next send comes), each to its own conversation; then 5 sends at once
 * into one more channel, to show what Slack's per-channel pacing does to a burst.
 */
export async function threadResult() {
  const spaced = 50;
  const spacingMs = 500;
  const burst = 5;
  const side = await IpcChild.start(SLACK_SIDE, { latencyMs: 50 });
  const dir = mkdtempSync(join(tmpdir(), 'bridge-bench-slack-'));
  try {
    const spacedChannels = channelIds(5);
    const [burstChannel = '', warmChannel = ''] = channelIds(2, 6);
    const setup = await side.call<SlackSideSetup>({
      cmd: 'setup',
      channels: [...spacedChannels, burstChannel, warmChannel],
      conversations: spaced + burst + 1,
    });
    const conversation = (index: number) => setup.conversations[index] ?? 1;
    const app = await startApp({
      ...setup.env,
      STORE_URL: `sqlite://${join(dir, 'bridge.sqlite')}`,
      // Above what 2 sends/s need (~6 requests each, with status re-reads), so the budget is not what is measured.
      CHATWOOT_REQUESTS_PER_MINUTE: '6000',
    });
    try {
      const send = async (plan: PlannedSend[]) => {
        const acks = await side.call<SentAck[]>({ cmd: 'sends', url: app.url, plan });
        const timings = await side.call<ThreadTiming[]>({
          cmd: 'threads',
          sends: acks.map((ack) => ({ tag: ack.tag, channel: ack.channel })),
          timeoutMs: 30_000,
        });
        return acks.map((ack, index) => ({ ack, timing: timings[index] }));
      };
      const [warm] = await send([
        { tag: 'BNWARMZ', channel: warmChannel, conversationId: conversation(spaced + burst), atMs: 0 },
      ]);
      const evenly = await send(
        Array.from({ length: spaced }, (_, index) => ({
          tag: `BN${String(index).padStart(4, '0')}Z`,
          channel: spacedChannels[index % spacedChannels.length] ?? '',
          conversationId: conversation(index),
          atMs: index * spacingMs,
        })),
      );
      const together = await send(
        Array.from({ length: burst }, (_, index) => ({
          tag: `BB${String(index).padStart(4, '0')}Z`,
          channel: burstChannel,
          conversationId: conversation(spaced + index),
          atMs: 0,
        })),
      );
      const since = (entries: typeof evenly, pick: (timing: ThreadTiming) => number | undefined) =>
        entries.map(({ ack, timing }) => {
          const at = timing === undefined ? undefined : pick(timing);
          return at === undefined ? Number.NaN : at - ack.ackAt;
        });
      const shown: Record<string, number> = {};
      for (const { timing } of evenly)
        shown[timing?.firstShown ?? 'none'] = (shown[timing?.firstShown ?? 'none'] ?? 0) + 1;
      const slack = await side.call<{ rateLimited: number; posts: number; updates: number }>({ cmd: 'slack' });
      return {
        sends: evenly.length,
        store: app.store,
        ack: percentiles(evenly.map(({ ack }) => ack.ackMs)),
        result: percentiles(since(evenly, (timing) => timing.resultAt)),
        root: percentiles(since(evenly, (timing) => timing.rootAt)),
        reply: percentiles(since(evenly, (timing) => timing.replyAt)),
        chatwoot: percentiles(since(evenly, (timing) => timing.chatwootAt)),
        firstShown: shown,
        missing:
          evenly.filter(({ ack, timing }) => !ack.ok || timing?.resultAt === undefined).length +
          together.filter(({ ack, timing }) => !ack.ok || timing?.resultAt === undefined).length,
        warmMs: warm?.timing?.resultAt === undefined ? Number.NaN : warm.timing.resultAt - warm.ack.ackAt,
        burst: since(together, (timing) => timing.resultAt),
        burstRoots: since(together, (timing) => timing.rootAt),
        slackRateLimited: slack.rateLimited,
        slackUpdates: slack.updates,
        logProblems: app.log.problems,
      };
    } finally {
      await app.stop(3_000);
    }
  } finally {
    await side.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
