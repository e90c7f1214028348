import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type Bridge, createBridge } from '../src/bridge.ts';
import { type Config, loadConfig } from '../src/config/load-config.ts';
import { isAccepted, type SendRecord } from '../src/delivery/send-record.ts';
import { createLogger } from '../src/log/create-logger.ts';
import { systemClock } from '../src/shared/clock.ts';
import { openStore } from '../src/store/open-store.ts';
import { inProcessChatwoot } from './in-process-chatwoot.ts';
import { IpcChild } from './ipc-child.ts';
import type * as SlackScenarios from './slack-scenarios.ts';

/**
 * `npm run bench`: each figure comes from one run against the fake Chatwoot, which runs in its own process so the
 * CPU figures are the bridge's own. Prints a table of figure vs target; exits 1 when a target is missed.
 * `npm run bench -- ack thread` runs only the scenarios named (rate, own, cpu, memory, lookup, ack, thread);
 * `node bench/run.ts --json <scenario>` runs one in this process and prints its raw figures.
 */

interface Setup {
  url: string;
  token: string;
  conversations: Array<{ id: number; phone: string }>;
}
interface Stats {
  kinds: string[];
  requests: number;
  throttled: number;
  stored: number[];
  all: number[];
}

/** The fake Chatwoot in its own process (fake-process.ts). */
const FakeProcess = {
  start: (options: { latencyMs?: number; rateLimitPerMinute?: number }) =>
    IpcChild.start(new URL('./fake-process.ts', import.meta.url), options),
};

const logger = createLogger({ level: 'silent' });

function configFor(
  setup: Setup,
  env: Record<string, string>,
  pacing: { pacingMs: number; pacingBurst: number },
): Config {
  const loaded = loadConfig({ CHATWOOT_BASE_URL: setup.url, CHATWOOT_API_ACCESS_TOKEN: setup.token, ...env });
  if (!loaded.ok) throw new Error(loaded.problems.map((problem) => problem.message).join('\n'));
  return { ...loaded.config, whatsapp: pacing };
}

async function withBridge<T>(
  config: Config,
  run: (bridge: Bridge) => Promise<T>,
  edges: { store?: 'sqlite' | 'memory'; fetch?: typeof fetch } = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-bench-'));
  const store = await openStore(edges.store === 'memory' ? 'memory://' : `sqlite://${join(dir, 'bench.sqlite')}`, {
    logger,
  });
  const bridge = createBridge({
    config,
    store,
    clock: systemClock,
    logger,
    ...(edges.fetch === undefined ? {} : { fetch: edges.fetch }),
  });
  try {
    return await run(bridge);
  } finally {
    await bridge.stop(1_000);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves every conversation once, so the measured phase starts with a warm cache, as a running bridge has. */
async function warm(bridge: Bridge, setup: Setup): Promise<void> {
  await Promise.all(
    setup.conversations.map((conversation) =>
      bridge.resolver.resolve({ kind: 'phone', e164: conversation.phone, country: 'US' }, { lane: 'send' }),
    ),
  );
}

async function submitAll(bridge: Bridge, setup: Setup, perConversation: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let round = 0; round < perConversation; round += 1) {
    for (const conversation of setup.conversations) {
      const { record } = await bridge.submit({
        idempotencyKey: `${tag}:${conversation.id}:${round}`,
        reference: { kind: 'phone', e164: conversation.phone, country: 'US' },
        content: { kind: 'text', text: `Update ${round + 1} on your order *${conversation.id}*` },
        requestedBy: { via: 'bench' },
      });
      ids.push(record.id);
    }
  }
  return ids;
}

/** Resolves with how many sends did not get there in time; listens to changes instead of polling the store. */
async function waitAll(bridge: Bridge, ids: string[], done: (record: SendRecord) => boolean, timeoutMs: number) {
  const open = new Set(ids);
  let finish = (): void => undefined;
  const finished = new Promise<number>((resolveLeft) => {
    const timer = setTimeout(() => finish(), timeoutMs);
    finish = () => {
      clearTimeout(timer);
      stop();
      resolveLeft(open.size);
    };
  });
  // Subscribe before looking, so no change can slip between the two.
  const stop = bridge.onChange((record) => {
    if (done(record)) open.delete(record.id);
    if (open.size === 0) finish();
  });
  for (const id of ids) {
    const record = await bridge.get(id);
    if (record !== undefined && done(record)) open.delete(id);
  }
  if (open.size === 0) finish();
  return finished;
}

/** Sends per minute against Chatwoot rate-limited at 1200/min with 50 ms latency, budget 1200/min. */
async function sendRate() {
  const fake = await FakeProcess.start({ latencyMs: 50, rateLimitPerMinute: 1200 });
  try {
    const setup = await fake.call<Setup>({ cmd: 'setup', conversations: 150 });
    const config = configFor(setup, { CHATWOOT_REQUESTS_PER_MINUTE: '1200' }, { pacingMs: 6_000, pacingBurst: 3 });
    return await withBridge(config, async (bridge) => {
      await warm(bridge, setup);
      await fake.call({ cmd: 'clear' });
      const ids = await submitAll(bridge, setup, 3, 'rate');
      const windowMs = 20_000;
      await delay(windowMs + 2_000);
      const stats = await fake.call<Stats>({ cmd: 'stats' });
      const start = Math.min(...stats.stored);
      const inWindow = stats.stored.filter((at) => at >= start && at < start + windowMs).length;
      const requestsInWindow = stats.all.filter((at) => at >= start && at < start + windowMs).length;
      if (process.env['BENCH_DEBUG'] === '1') {
        const kinds: Record<string, number> = {};
        stats.all.forEach((at, index) => {
          if (at < start || at >= start + windowMs) return;
          const kind = stats.kinds[index] ?? '?';
          kinds[kind] = (kinds[kind] ?? 0) + 1;
        });
        console.error('requests in the window', kinds);
      }
      await waitAll(bridge, ids, (record) => record.parts.every((part) => isAccepted(part.state)), 10_000);
      const perMinute = (inWindow * 60_000) / windowMs;
      return {
        ratio: perMinute / 1200,
        perMinute,
        requestRatio: (requestsInWindow * 60_000) / windowMs / 1200,
        throttled: stats.throttled,
      };
    });
  } finally {
    await fake.close();
  }
}

/** CPU (user + system) the bridge process spends per message, from submit until WhatsApp took it. */
async function cpuPerMessage() {
  const fake = await FakeProcess.start({});
  try {
    const setup = await fake.call<Setup>({ cmd: 'setup', conversations: 500 });
    const config = configFor(
      setup,
      { CHATWOOT_REQUESTS_PER_MINUTE: '100000', CHATWOOT_CONCURRENCY: '8' },
      { pacingMs: 0, pacingBurst: 3 },
    );
    return await withBridge(config, async (bridge) => {
      await warm(bridge, setup);
      await fake.call({ cmd: 'clear' });
      const before = process.cpuUsage();
      const started = performance.now();
      const ids = await submitAll(bridge, setup, 4, 'cpu');
      const left = await waitAll(bridge, ids, (record) => record.state === 'delivered', 120_000);
      const used = process.cpuUsage(before);
      const stats = await fake.call<Stats>({ cmd: 'stats' });
      if (left > 0 && process.env['BENCH_DEBUG'] === '1') {
        const states: Record<string, number> = {};
        for (const id of ids) {
          const record = await bridge.get(id);
          const key = `${record?.state}:${record?.parts.map((part) => part.state).join('/')}`;
          states[key] = (states[key] ?? 0) + 1;
        }
        console.error('unfinished states', states, bridge.stats());
      }
      return {
        requestsPerMessage: stats.requests / ids.length,
        messages: ids.length,
        unfinished: left,
        cpuMsPerMessage: (used.user + used.system) / 1000 / ids.length,
        userMsPerMessage: used.user / 1000 / ids.length,
        systemMsPerMessage: used.system / 1000 / ids.length,
        seconds: (performance.now() - started) / 1000,
      };
    });
  } finally {
    await fake.close();
  }
}

/** The same, with the edges in-process (Chatwoot answered by a `fetch` function, state in memory): our code alone. */
async function cpuInOurCode() {
  const chatwoot = inProcessChatwoot(500);
  const setup: Setup = {
    url: 'http://chatwoot.invalid',
    token: 'bench-token',
    conversations: Array.from({ length: 500 }, (_, index) => ({ id: index + 1, phone: chatwoot.phone(index + 1) })),
  };
  const config = configFor(
    setup,
    { CHATWOOT_REQUESTS_PER_MINUTE: '100000', CHATWOOT_CONCURRENCY: '8' },
    { pacingMs: 0, pacingBurst: 3 },
  );
  return withBridge(
    config,
    async (bridge) => {
      await warm(bridge, setup);
      const before = process.cpuUsage();
      const ids = await submitAll(bridge, setup, 4, 'own');
      const left = await waitAll(bridge, ids, (record) => record.state === 'delivered', 60_000);
      const used = process.cpuUsage(before);
      return { messages: ids.length, unfinished: left, cpuMsPerMessage: (used.user + used.system) / 1000 / ids.length };
    },
    { store: 'memory', fetch: chatwoot.fetch },
  );
}

/** Peak RSS while 10,000 sends sit in the queue (Chatwoot answering after a minute, so nothing drains). */
async function memoryWithQueue() {
  const fake = await FakeProcess.start({ latencyMs: 120_000 });
  try {
    const setup = await fake.call<Setup>({ cmd: 'setup', conversations: 1_000 });
    const config = configFor(setup, {}, { pacingMs: 6_000, pacingBurst: 3 });
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      return await withBridge(config, async (bridge) => {
        const started = performance.now();
        const ids = await submitAll(bridge, setup, 10, 'memory');
        const submitSeconds = (performance.now() - started) / 1000;
        await delay(2_000);
        const queued = bridge.stats().outbox.queued;
        return { sends: ids.length, queued, peakMb: peak / 2 ** 20, baselineMb: baseline / 2 ** 20, submitSeconds };
      });
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await fake.close();
  }
}

/** Time to resolve a phone number whose conversation is cached, and requests it makes (should be none). */
async function cacheHit() {
  const fake = await FakeProcess.start({});
  try {
    const setup = await fake.call<Setup>({ cmd: 'setup', conversations: 100 });
    const config = configFor(setup, {}, { pacingMs: 0, pacingBurst: 3 });
    return await withBridge(config, async (bridge) => {
      await warm(bridge, setup);
      await fake.call({ cmd: 'clear' });
      const lookups = 10_000;
      const started = performance.now();
      for (let index = 0; index < lookups; index += 1) {
        const conversation = setup.conversations[index % setup.conversations.length];
        if (conversation === undefined) continue;
        await bridge.resolver.resolve(
          { kind: 'phone', e164: conversation.phone, country: 'US' },
          { lane: 'interactive' },
        );
      }
      const msPerLookup = (performance.now() - started) / lookups;
      const stats = await fake.call<Stats>({ cmd: 'stats' });
      return { msPerLookup, requests: stats.requests };
    });
  } finally {
    await fake.close();
  }
}

const SCENARIOS = {
  rate: sendRate,
  own: cpuInOurCode,
  cpu: cpuPerMessage,
  memory: memoryWithQueue,
  lookup: cacheHit,
  // Loaded only by their own child: the Slack app's modules must not weigh on the other scenarios' memory figures.
  ack: async (): Promise<Awaited<ReturnType<typeof SlackScenarios.ackLatency>>> =>
    (await import('./slack-scenarios.ts')).ackLatency(),
  thread: async (): Promise<Awaited<ReturnType<typeof SlackScenarios.threadResult>>> =>
    (await import('./slack-scenarios.ts')).threadResult(),
} as const;
type Scenario = keyof typeof SCENARIOS;
type Result<S extends Scenario> = Awaited<ReturnType<(typeof SCENARIOS)[S]>>;
const isScenario = (name: string | undefined): name is Scenario => name !== undefined && name in SCENARIOS;

/** Each scenario runs in a fresh process, so memory and CPU figures are not inherited from the one before. */
async function inChild<S extends Scenario>(scenario: S): Promise<Result<S>> {
  const child = fork(new URL(import.meta.url).pathname, ['--child', scenario], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<Result<S>>((resolveResult, rejectResult) => {
    child.once('message', (message) => resolveResult(message as Result<S>));
    child.once('exit', (code) => rejectResult(new Error(`bench scenario ${scenario} exited with ${code}`)));
  });
}

const [flag, named] = process.argv.slice(2);
if ((flag === '--child' || flag === '--json') && isScenario(named)) {
  const result = await SCENARIOS[named]();
  if (flag === '--json') console.log(JSON.stringify(result, null, 2));
  else process.send?.(result);
  process.exit(0);
}
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !isScenario(name));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
const wanted = (name: Scenario) => asked.length === 0 || asked.includes(name);

const rows: Array<[string, string, string, boolean]> = [];
const notes: string[] = [];
const fmt = (value: number, digits = 2) => value.toFixed(digits);
const ms = (value: number, digits = 1) => `${fmt(value, digits)} ms`;
const seconds = (value: number) => `${fmt(value / 1000, 2)} s`;

if (wanted('rate')) {
  const rate = await inChild('rate');
  rows.push(['send rate / budget (1200/min, 50 ms latency)', fmt(rate.ratio), '≥ 0.95', rate.ratio >= 0.95]);
  rows.push(['  429 responses', String(rate.throttled), '0', rate.throttled === 0]);
  notes.push(
    `sends accepted at ${fmt(rate.perMinute, 0)}/min (all requests in that window: ${fmt(rate.requestRatio)} of the budget; ` +
      'the limit is any 60 s, so a 20 s sample may show slightly more).',
  );
}
if (wanted('own')) {
  const own = await inChild('own');
  rows.push([
    `CPU per message in our code (${own.messages} sends)`,
    `${fmt(own.cpuMsPerMessage, 3)} ms`,
    '≤ 1 ms',
    own.cpuMsPerMessage <= 1 && own.unfinished === 0,
  ]);
}
if (wanted('cpu')) {
  const cpu = await inChild('cpu');
  rows.push([
    '  with real HTTP and the durable SQLite store',
    `${fmt(cpu.cpuMsPerMessage, 3)} ms`,
    '(info)',
    cpu.unfinished === 0,
  ]);
  notes.push(
    `With real HTTP and SQLite: ${fmt(cpu.userMsPerMessage, 3)} ms user + ${fmt(cpu.systemMsPerMessage, 3)} ms system ` +
      `per message, ${fmt(cpu.requestsPerMessage, 2)} requests per message; ${cpu.messages} messages end to end in ` +
      `${fmt(cpu.seconds, 1)} s.`,
  );
}
if (wanted('memory')) {
  const memory = await inChild('memory');
  rows.push([
    `peak RSS, ${memory.queued.toLocaleString('en')} sends queued`,
    `${fmt(memory.peakMb, 0)} MB`,
    '≤ 200 MB',
    memory.peakMb <= 200 && memory.queued >= 10_000,
  ]);
  notes.push(
    `Memory: 10,000 sends stored in ${fmt(memory.submitSeconds, 1)} s; RSS ${fmt(memory.baselineMb, 0)} MB before.`,
  );
}
if (wanted('lookup')) {
  const hit = await inChild('lookup');
  rows.push(['lookup on a cache hit', `${fmt(hit.msPerLookup, 4)} ms`, '≤ 1 ms', hit.msPerLookup <= 1]);
  rows.push(['  requests during 10,000 cache-hit lookups', String(hit.requests), '0', hit.requests === 0]);
}
if (wanted('ack')) {
  const ack = await inChild('ack');
  const all = ack.failed === 0 && ack.ack.count === ack.commands;
  rows.push([
    `Slack ack p50 (${ack.commands.toLocaleString('en')} sends, Chatwoot 2 s)`,
    ms(ack.ack.p50),
    '(info)',
    all,
  ]);
  rows.push(['  p99', ms(ack.ack.p99), '≤ 50 ms', ack.ack.p99 <= 50 && all]);
  rows.push(['  max', ms(ack.ack.max), '(info)', all]);
  rows.push(['  acks not "queued"', String(ack.failed), '0', ack.failed === 0]);
  rows.push([
    '  sends stored in SQLite',
    String(ack.storedSends),
    `${ack.commands + 20}`,
    ack.storedSends === ack.commands + 20,
  ]);
  rows.push(['  peak RSS', `${fmt(ack.peakMb, 0)} MB`, '(info)', true]);
  notes.push(
    `Slack acks: ${ack.commands} signed POST /slack/events (/whatsapp send <conversation> <text>) in bursts of 20 sent ` +
      `at once, the next burst 100 ms after the last ack (${fmt(ack.seconds, 1)} s in all), 5 channels, 50 conversations, ` +
      `a new trigger_id each, after 20 warm-up commands (slowest of those: ${ms(ack.coldMaxMs)}). An ack is request ` +
      `sent → HTTP response received by the load generator in another process (loopback, keep-alive), so it includes ` +
      `signature check, Bolt, parsing, storing the send in ${ack.store} (WAL, synchronous=FULL) and logging. ` +
      `Chatwoot answered ${ack.chatwootAnsweredSlow} requests after ≥ 2 s (${ack.chatwootAnsweredFast} faster: ` +
      `startup), ${ack.chatwootPending} in flight at the end, ${ack.chatwootMessagePosts} messages posted; the outbox ` +
      `held ${ack.outboxQueued} sends queued (+${ack.outboxInProgress} in progress). App process during the ` +
      `commands: ${fmt(ack.cpuMsPerCommand, 2)} ms CPU per command (everything it did, threads included), event ` +
      `loop delay p99 ${ms(ack.loopDelayP99Ms)}, max ${ms(ack.loopDelayMaxMs)}; RSS ${fmt(ack.baselineMb, 0)} MB ` +
      `before, peak ${fmt(ack.peakMb, 0)} MB (JS heap used ${fmt(ack.heapBeforeMb, 0)} → peak ` +
      `${fmt(ack.peakHeapMb, 0)} MB); ${ack.logLines} log lines; ${ack.slackPosts} Slack posts, ` +
      `${ack.slackRateLimited} 429s.`,
  );
  if (ack.failures.length > 0) notes.push(`  failed acks, e.g.: ${ack.failures.join(' | ')}`);
  if (ack.logProblems.length > 0) notes.push(`  app warnings: ${ack.logProblems.join('\n')}`);
}
if (wanted('thread')) {
  const thread = await inChild('thread');
  const all = thread.missing === 0;
  rows.push([
    `ack → thread shows accepted, p50 (${thread.sends} sends, Chatwoot 50 ms)`,
    seconds(thread.result.p50),
    '(info)',
    all,
  ]);
  rows.push(['  p99', seconds(thread.result.p99), '(info)', all]);
  rows.push(['  max', seconds(thread.result.max), '(info)', all]);
  rows.push(['  ack → Chatwoot answered the send, p50', seconds(thread.chatwoot.p50), '(info)', all]);
  const last = Math.max(...thread.burst);
  rows.push([`  ${thread.burst.length} sends at once into one channel: the last`, seconds(last), '(info)', all]);
  rows.push(['  Slack 429s', String(thread.slackRateLimited), '0', thread.slackRateLimited === 0]);
  const shown = Object.entries(thread.firstShown)
    .map(([word, count]) => `${word} ${count}`)
    .join(', ');
  notes.push(
    `Thread result: production Slack pacing (1 post per 1.1 s per channel, burst 1; updates 1 per 1.2 s, burst 5) ` +
      `against a fake Slack with real Slack's limits; Chatwoot answers in 50 ms; store ${thread.store}. ` +
      `${thread.sends} sends, one every 500 ms over 5 channels (so each channel is idle when its next send comes), each ` +
      `to a conversation not yet resolved. The figure is ack received → Slack received the status reply (a post or ` +
      `an edit) saying "Accepted by Chatwoot" or further: it includes storing the thread, posting the root ` +
      `(p50 ${ms(thread.root.p50, 0)} after the ack), then the poster's 1.1 s spacing before the second post in ` +
      `that channel; the Chatwoot work runs meanwhile (its POST …/messages answered p50 ${ms(thread.chatwoot.p50, 0)}, ` +
      `p99 ${ms(thread.chatwoot.p99, 0)} after the ack), so the status reply is first posted as: ${shown}. ` +
      `Ack p50 ${ms(thread.ack.p50)}. First send after start (warm-up, other channel): ${seconds(thread.warmMs)}. ` +
      `${thread.burst.length} sends at once into one channel: roots after ` +
      `${thread.burstRoots.map((value) => seconds(value)).join(', ')}; status replies after ` +
      `${thread.burst.map((value) => seconds(value)).join(', ')} (10 posts into one channel, 1.1 s apart; a status ` +
      `reply waits behind every root queued before it). ${thread.slackUpdates} chat.update calls.`,
  );
  if (thread.logProblems.length > 0) notes.push(`  app warnings: ${thread.logProblems.join('\n')}`);
}

const width = Math.max(...rows.map((row) => row[0].length));
console.log(`\n${'figure'.padEnd(width)}  ${'result'.padStart(10)}  target`);
for (const [name, value, target, ok] of rows) {
  console.log(`${name.padEnd(width)}  ${value.padStart(10)}  ${target.padEnd(8)} ${ok ? 'ok' : 'MISSED'}`);
}
console.log(`\n${notes.join('\n\n')}`);
process.exitCode = rows.every((row) => row[3]) ? 0 : 1;
