import { setTimeout as delay } from 'node:timers/promises';
import { type Bridge, type BridgeTuning, createBridge } from '../../src/bridge.ts';
import { type Config, loadConfig } from '../../src/config/load-config.ts';
import { rank, type SendRecord, type SendState } from '../../src/delivery/send-record.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import {
  type FakeChatwoot,
  type FakeChatwootOptions,
  type FakeInbox,
  type FakeInboxInit,
  startFakeChatwoot,
} from '../fakes/fake-chatwoot.ts';
import { createLogSink, type LogSink } from './log-sink.ts';

/** Real time that a test can move forward (to cross the 24-hour window), shared by the fake and the bridge. */
export interface ShiftableClock extends Clock {
  jump(ms: number): void;
}

export function createShiftableClock(): ShiftableClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: async (ms, signal) => {
      await delay(Math.max(0, ms), undefined, signal === undefined ? undefined : { signal });
    },
    jump: (ms) => {
      offset += ms;
    },
  };
}

/** Retries, settles and polls shortened so a test takes milliseconds, not minutes. */
export const FAST: BridgeTuning = {
  clientRetry: { baseDelayMs: 10, maxDelayMs: 40, maxTotalMs: 2_000 },
  sendRetry: { baseDelayMs: 20, maxDelayMs: 80, ambiguousSettleMs: 60, maxTotalMs: 10_000 },
  statusFirstDelayMs: 25,
  statusMaxDelayMs: 60,
  windowMarginMs: 1_000,
};

export interface HarnessOptions {
  readonly fake?: FakeChatwootOptions;
  readonly env?: Readonly<Record<string, string>>;
  readonly config?: (config: Config) => Config;
  readonly storeUrl?: string;
  readonly tuning?: BridgeTuning;
  readonly inbox?: Partial<FakeInboxInit>;
  readonly logLevel?: 'trace' | 'debug' | 'info';
}

export interface Harness {
  readonly fake: FakeChatwoot;
  readonly inbox: FakeInbox;
  readonly bridge: Bridge;
  readonly store: Store;
  readonly log: LogSink;
  readonly clock: ShiftableClock;
  readonly config: Config;
  /** A WhatsApp customer with an open conversation (they wrote a minute ago, so the window is open). */
  customer(init?: {
    name?: string;
    phone?: string;
    status?: 'open' | 'resolved' | 'pending';
    wrote?: boolean;
  }): Promise<{
    contactId: number;
    conversationId: number;
    phone: string;
  }>;
  /** Another bridge over the same fake (a restart), with its own store. */
  restart(options?: { storeUrl?: string }): Promise<Bridge>;
  close(): Promise<void>;
}

let phoneCounter = 0;

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = createShiftableClock();
  const fake = await startFakeChatwoot({ now: clock.now, ...options.fake });
  const inbox = fake.addInbox({
    name: 'WhatsApp Support',
    channelType: 'Channel::Whatsapp',
    provider: 'whatsapp_cloud',
    phoneNumber: '+14155550100',
    ...options.inbox,
  });
  const log = createLogSink(options.logLevel ?? 'debug');
  const loaded = loadConfig({
    CHATWOOT_BASE_URL: fake.url,
    CHATWOOT_API_ACCESS_TOKEN: fake.user.token,
    CHATWOOT_ACCOUNT_ID: String(fake.accountId),
    CHATWOOT_REQUESTS_PER_MINUTE: '60000',
    CHATWOOT_TIMEOUT_SECONDS: '2',
    ...options.env,
  });
  if (!loaded.ok) throw new Error(loaded.problems.map((problem) => problem.message).join('\n'));
  const base: Config = { ...loaded.config, whatsapp: { pacingMs: 0, pacingBurst: 3 } };
  const config = options.config?.(base) ?? base;
  const stores: Store[] = [];
  const bridges: Bridge[] = [];
  const open = async (storeUrl: string) => {
    const store = await openStore(storeUrl, { logger: log.logger });
    stores.push(store);
    const bridge = createBridge({ config, store, clock, logger: log.logger, tuning: options.tuning ?? FAST });
    bridges.push(bridge);
    return { store, bridge };
  };
  const first = await open(options.storeUrl ?? 'memory://');

  return {
    fake,
    inbox,
    bridge: first.bridge,
    store: first.store,
    log,
    clock,
    config,
    customer: async (init = {}) => {
      phoneCounter += 1;
      const phone = init.phone ?? `+1415555${String(1000 + phoneCounter).slice(-4)}`;
      const contact = fake.addContact({ name: init.name ?? `Customer ${phoneCounter}`, phoneNumber: phone });
      const conversation = fake.addConversation({ inboxId: inbox.id, contactId: contact.id });
      if (init.wrote !== false) {
        fake.addIncomingMessage(conversation.id, { content: 'Hi, any news on my order?', at: clock.now() - 60_000 });
      }
      if (init.status !== undefined && init.status !== 'open') {
        // As an agent would: through the API (an incoming message reopens a resolved conversation).
        const response = await fetch(
          `${fake.url}/api/v1/accounts/${fake.accountId}/conversations/${conversation.id}/toggle_status`,
          {
            method: 'POST',
            headers: { api_access_token: fake.user.token, 'content-type': 'application/json' },
            body: JSON.stringify({ status: init.status }),
          },
        );
        if (!response.ok) throw new Error(`toggle_status failed: ${response.status}`);
      }
      fake.clearRequests();
      return { contactId: contact.id, conversationId: conversation.id, phone };
    },
    restart: async (restartOptions = {}) =>
      (await open(restartOptions.storeUrl ?? options.storeUrl ?? 'memory://')).bridge,
    close: async () => {
      for (const bridge of bridges) await bridge.stop(500);
      for (const store of stores) await store.close();
      await fake.close();
    },
  };
}

/** Resolves when `predicate` holds for the record, or fails after `timeoutMs` with what the record looked like. */
export async function waitForSend(
  bridge: Bridge,
  sendId: string,
  predicate: (record: SendRecord) => boolean,
  timeoutMs = 5_000,
): Promise<SendRecord> {
  const deadline = Date.now() + timeoutMs;
  let last: SendRecord | undefined;
  while (Date.now() < deadline) {
    last = await bridge.get(sendId);
    if (last !== undefined && predicate(last)) return last;
    await delay(10);
  }
  throw new Error(`send ${sendId} did not get there in ${timeoutMs} ms; last seen: ${JSON.stringify(last, null, 1)}`);
}

export const reached = (state: SendState) => (record: SendRecord) => record.state === state;

/** The send got at least this far (and did not fail): WhatsApp's later states may already have arrived. */
export const atLeast = (state: Exclude<SendState, 'failed'>) => (record: SendRecord) =>
  record.state !== 'failed' && rank(record.state) >= rank(state);

/** Every state a send passed through, in order, as listeners saw them. */
export function recordStates(bridge: Bridge): Map<string, SendState[]> {
  const seen = new Map<string, SendState[]>();
  bridge.onChange((record) => {
    const states = seen.get(record.id) ?? [];
    if (states.at(-1) !== record.state) states.push(record.state);
    seen.set(record.id, states);
  });
  return seen;
}
