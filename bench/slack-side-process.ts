import { startFakeChatwoot } from '../test/fakes/fake-chatwoot.ts';
import { SLACK_DEFAULTS, startFakeSlack } from '../test/fakes/fake-slack.ts';
import { formBody, postSigned, slashCommand } from '../test/helpers/slack-requests.ts';

/**
 * Everything outside the app for the Slack scenarios, in its own process so the app's process holds the app alone
 * (its RSS, its CPU, its event loop): the fake Slack (real Slack's rate limits), the fake Chatwoot, and the load
 * generator that plays Slack sending signed slash commands to the app's `/slack/events` and times each ack.
 * Timestamps it returns (`…At`) are this process's `Date.now()`, the clock both fakes record with.
 */
export type SlackSideCommand =
  | { cmd: 'setup'; channels: string[]; conversations: number }
  | { cmd: 'latency'; ms: number }
  | { cmd: 'acks'; url: string; total: number; concurrency: number; pauseMs: number; tag: string }
  | { cmd: 'sends'; url: string; plan: PlannedSend[] }
  | { cmd: 'threads'; sends: Array<{ tag: string; channel: string }>; timeoutMs: number }
  | { cmd: 'chatwoot' }
  | { cmd: 'slack' }
  | { cmd: 'close' };

export interface PlannedSend {
  readonly tag: string;
  readonly channel: string;
  readonly conversationId: number;
  /** When to send, from the start of the plan. */
  readonly atMs: number;
}

export interface SlackSideSetup {
  readonly env: Record<string, string>;
  readonly conversations: number[];
}

export interface AckRun {
  /** Request sent → response received, ms, in sending order. */
  readonly latencies: number[];
  /** Acks that were not HTTP 200 with "queued" (first few kept). */
  readonly failed: number;
  readonly failures: string[];
  readonly seconds: number;
}

export interface SentAck {
  readonly tag: string;
  /** On a failed ack: the status and the start of the body. */
  readonly detail: string;
  readonly channel: string;
  readonly ackMs: number;
  readonly ackAt: number;
  readonly ok: boolean;
}

export interface ThreadTiming {
  readonly tag: string;
  /** Slack received the thread's root post. */
  readonly rootAt?: number;
  /** Slack received the status reply (whatever it showed then). */
  readonly replyAt?: number;
  /** The status reply first showed the send accepted or further (posted so, or edited to it). */
  readonly resultAt?: number;
  /** What the status reply showed when posted ("Queued", "Accepted", "Sent", …). */
  readonly firstShown?: string;
  /** Chatwoot answered the POST …/messages carrying this send. */
  readonly chatwootAt?: number;
  readonly failed: boolean;
}

export interface ChatwootStats {
  readonly requests: number;
  readonly pending: number;
  /** Answered requests by duration (ms), sorted. */
  readonly durations: number[];
  readonly messagePosts: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as { latencyMs?: number };
const slack = await startFakeSlack({
  // Real Slack: ~1 post per second per channel with short bursts, chat.update Tier 3 (~50/min).
  postRate: { perSecond: 1, burst: 3 },
  updateRate: { perMinute: 50, burst: 50 },
});
const chatwoot = await startFakeChatwoot({
  latencyMs: options.latencyMs ?? 0,
  rateLimitPerMinute: false,
  contactSearchPerMinute: false,
  requestLogLimit: 1_000_000,
  delivery: { sentAfterMs: 20, deliveredAfterMs: 200, readAfterMs: null, attachmentDelayMs: 0 },
});
const inbox = chatwoot.addInbox({
  name: 'WhatsApp Support',
  channelType: 'Channel::Whatsapp',
  provider: 'whatsapp_cloud',
  phoneNumber: '+14155550100',
});
let conversations: number[] = [];
let channels: string[] = [];

const reply = (message: unknown) => process.send?.(message);
/** Accepted by Chatwoot or further along, as the status reply words it. */
const RESULT = /Accepted by Chatwoot|Sent: WhatsApp took|Delivered to|Read by/;

/** One signed `/whatsapp send`, as Slack posts it; resolves with the ack's timing. */
async function sendCommand(url: string, channel: string, conversationId: number, text: string): Promise<SentAck> {
  const fields = slashCommand({
    text: `send ${conversationId} ${text}`,
    channel_id: channel,
    channel_name: channel.toLowerCase(),
    response_url: slack.responseUrl(),
  });
  const body = formBody({ ...fields });
  const started = performance.now();
  const response = await postSigned(`${url}/slack/events`, body, { secret: SLACK_DEFAULTS.signingSecret });
  const raw = await response.text();
  const ackMs = performance.now() - started;
  const ok = response.status === 200 && /"text":"Message for [^"]* queued: /.test(raw);
  return { tag: text, detail: `${response.status} ${raw.slice(0, 160)}`, channel, ackMs, ackAt: Date.now(), ok };
}

function statusWord(text: string): string {
  return /(Queued|Retrying|Waiting|Accepted|Sent|Delivered|Read|Failed)/.exec(text)?.[1] ?? text.slice(0, 40);
}

function threadTiming(tag: string, channel: string): ThreadTiming | undefined {
  const root = slack.messages(channel).find((message) => message.threadTs === undefined && message.text.includes(tag));
  if (root === undefined) return undefined;
  const status = slack.thread(channel, root.ts)[0];
  if (status === undefined) return undefined;
  const posts = slack.calls('chat.postMessage').filter((call) => call.ok && call.args['channel'] === channel);
  const rootCall = posts.find(
    (call) => call.args['thread_ts'] === undefined && String(call.args['text']).includes(tag),
  );
  const replyCall = posts.find((call) => call.args['thread_ts'] === root.ts);
  if (replyCall === undefined) return undefined;
  const shown = [{ text: String(replyCall.args['text']), at: replyCall.at }, ...status.edits];
  const result = shown.find((entry) => RESULT.test(entry.text));
  const failed = shown.some((entry) => /Failed/.test(entry.text));
  if (result === undefined && !failed) return undefined;
  const post = chatwoot.requests.find(
    (request) =>
      request.method === 'POST' && request.path.endsWith('/messages') && JSON.stringify(request.body).includes(tag),
  );
  return {
    tag,
    ...(rootCall === undefined ? {} : { rootAt: rootCall.at }),
    replyAt: replyCall.at,
    ...(result === undefined ? {} : { resultAt: result.at }),
    firstShown: statusWord(String(replyCall.args['text'])),
    ...(post?.respondedAt == null ? {} : { chatwootAt: post.respondedAt }),
    failed,
  };
}

process.on('message', async (message: SlackSideCommand) => {
  switch (message.cmd) {
    case 'setup': {
      channels = message.channels;
      for (const [index, id] of channels.entries()) slack.addChannel({ id, name: `bench-${index + 1}` });
      conversations = [];
      for (let index = 0; index < message.conversations; index += 1) {
        const contact = chatwoot.addContact({
          name: `Customer ${index + 1}`,
          phoneNumber: `+1415${String(2_000_000 + index).padStart(7, '0')}`,
        });
        const conversation = chatwoot.addConversation({ inboxId: inbox.id, contactId: contact.id });
        chatwoot.addIncomingMessage(conversation.id, { content: 'Hi, any news on my order?', at: Date.now() - 60_000 });
        conversations.push(conversation.id);
      }
      const setup: SlackSideSetup = {
        env: {
          CHATWOOT_BASE_URL: chatwoot.url,
          CHATWOOT_API_ACCESS_TOKEN: chatwoot.user.token,
          CHATWOOT_ACCOUNT_ID: String(chatwoot.accountId),
          SLACK_BOT_TOKEN: slack.botToken,
          SLACK_API_URL: slack.apiUrl,
          SLACK_SIGNING_SECRET: SLACK_DEFAULTS.signingSecret,
        },
        conversations,
      };
      reply(setup);
      return;
    }
    case 'latency':
      chatwoot.setLatency(message.ms);
      reply({ ok: true });
      return;
    case 'acks': {
      // Bursts of `concurrency` commands sent together; the next burst starts `pauseMs` after the last ack.
      const latencies: number[] = [];
      const failures: string[] = [];
      let failed = 0;
      const started = performance.now();
      for (let sent = 0; sent < message.total; sent += message.concurrency) {
        const burst = Array.from({ length: Math.min(message.concurrency, message.total - sent) }, (_, offset) => {
          const n = sent + offset;
          const channel = channels[n % channels.length] ?? SLACK_DEFAULTS.channel.id;
          const conversationId = conversations[(n * 7) % conversations.length] ?? 1;
          return sendCommand(
            message.url,
            channel,
            conversationId,
            `Hi! ${message.tag}${n}: your order *${1000 + n}* has shipped and arrives tomorrow.`,
          ).catch((error: unknown) => ({ detail: String(error), ackMs: Number.NaN, ok: false }));
        });
        for (const ack of await Promise.all(burst)) {
          latencies.push(ack.ackMs);
          if (!ack.ok) {
            failed += 1;
            if (failures.length < 5) failures.push(ack.detail);
          }
        }
        if (message.pauseMs > 0) await new Promise((resolveWait) => setTimeout(resolveWait, message.pauseMs));
      }
      const run: AckRun = { latencies, failed, failures, seconds: (performance.now() - started) / 1000 };
      reply(run);
      return;
    }
    case 'sends': {
      const started = performance.now();
      const acks = await Promise.all(
        message.plan.map(async (planned) => {
          const wait = planned.atMs - (performance.now() - started);
          if (wait > 0) await new Promise((resolveWait) => setTimeout(resolveWait, wait));
          const ack = await sendCommand(
            message.url,
            planned.channel,
            planned.conversationId,
            `Hi! ${planned.tag}: your order has shipped and arrives tomorrow.`,
          );
          return { ...ack, tag: planned.tag };
        }),
      );
      reply(acks);
      return;
    }
    case 'threads': {
      const deadline = Date.now() + message.timeoutMs;
      const found = new Map<string, ThreadTiming>();
      while (found.size < message.sends.length && Date.now() < deadline) {
        for (const send of message.sends) {
          if (found.has(send.tag)) continue;
          const timing = threadTiming(send.tag, send.channel);
          if (timing !== undefined) found.set(send.tag, timing);
        }
        if (found.size < message.sends.length) await new Promise((resolveWait) => setTimeout(resolveWait, 100));
      }
      reply(message.sends.map((send) => found.get(send.tag) ?? { tag: send.tag, failed: false }));
      return;
    }
    case 'chatwoot': {
      const answered = chatwoot.requests.filter((request) => request.respondedAt !== null);
      const stats: ChatwootStats = {
        requests: chatwoot.requests.length,
        pending: chatwoot.requests.filter((request) => request.outcome === 'pending').length,
        durations: answered
          .map((request) => (request.respondedAt ?? request.receivedAt) - request.receivedAt)
          .sort((a, b) => a - b),
        messagePosts: chatwoot.requests.filter(
          (request) => request.method === 'POST' && request.path.endsWith('/messages') && request.status === 200,
        ).length,
      };
      reply(stats);
      return;
    }
    case 'slack':
      reply({
        rateLimited: slack.rateLimited(),
        posts: slack.calls('chat.postMessage').length,
        updates: slack.calls('chat.update').length,
        userLookups: slack.calls('users.info').length,
      });
      return;
    case 'close':
      await Promise.allSettled([slack.close(), chatwoot.close()]);
      reply({ ok: true });
      process.exit(0);
  }
});
reply({ ready: true });
