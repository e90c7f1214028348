import { describe, expect, test } from 'vitest';
import type { SlackTuning } from '../../src/slack/slack-app.ts';
import { SLACK_DEFAULTS, type SlackMessage } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  type AppHarnessOptions,
  addAppWebhook,
  appHarnesses,
  eventually,
  outgoingTo,
  postWebhook,
  rootsIn,
  threadFor,
  threadReaches,
  WEBHOOK_SECRET,
} from '../helpers/slack-app-harness.ts';

/**
 * End to end: a customer's WhatsApp answer (Chatwoot's `message_created` webhook) appears in the Slack thread of the
 * conversation's latest send, once.
 */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const OTHER_CHANNEL = { id: 'C0SALES001', name: 'sales' };

/** Answers read back by polling only after a minute: what reaches a thread here came by webhook. */
const NO_REPLY_POLLING: SlackTuning = { replyPollMs: 60_000 };

async function startWithWebhook(options: AppHarnessOptions = {}): Promise<AppHarness> {
  const h = await start({
    slackTuning: NO_REPLY_POLLING,
    ...options,
    env: { CHATWOOT_WEBHOOK_SECRET: WEBHOOK_SECRET, ...options.env },
  });
  expect(h.stderr()).toBe('');
  addAppWebhook(h);
  return h;
}

/** The customer's messages the app posted in a thread (not the status replies). */
function answersIn(h: AppHarness, channel: string, rootTs: string): SlackMessage[] {
  return h.slack.thread(channel, rootTs).filter((reply) => reply.text.includes('answered on WhatsApp'));
}

function waitForAnswer(h: AppHarness, channel: string, rootTs: string, text: string): Promise<SlackMessage> {
  return eventually(
    () => answersIn(h, channel, rootTs).find((reply) => reply.text.includes(text)),
    `the customer's “${text}” in the thread`,
  );
}

describe('a customer’s answer is posted in the thread', () => {
  test('name and text under the send, after its status reply; exactly once even when the webhook is replayed', async () => {
    // Answers are polled too here (every 100 ms): the webhook, its replays and polling still post it once.
    const h = await startWithWebhook({ slackTuning: {} });
    const { conversationId } = h.customer({ name: 'Jane Customer' });
    await h.command(`send ${conversationId} Your order has shipped`);
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);

    const message = h.chatwoot.addIncomingMessage(conversationId, { content: 'Great, *thanks*! When will it arrive?' });
    const answer = await waitForAnswer(h, CHANNEL, root.ts, 'When will it arrive?');
    expect(answer.text).toContain('Jane Customer');
    expect(answer.text).toContain('*thanks*');
    expect(answer.threadTs).toBe(root.ts);
    const thread = h.slack.thread(CHANNEL, root.ts);
    expect(thread[0]?.text).toMatch(/Sent|Delivered/);
    expect(thread[1]?.ts).toBe(answer.ts);

    // Chatwoot's delivery again, byte for byte: a duplicate. The same event under a new delivery id: still posted once.
    const delivery = h.chatwoot
      .webhookDeliveries()
      .find((candidate) => candidate.event === 'message_created' && candidate.body['id'] === message.id);
    if (delivery === undefined) throw new Error('no delivery for the answer');
    expect(delivery.status).toBe(200);
    const replay = await postWebhook(h, h.chatwoot.webhookRequest(delivery));
    expect(replay).toMatchObject({ status: 200, body: { duplicate: true } });
    const again = await postWebhook(
      h,
      h.chatwoot.webhookRequest(delivery, {
        deliveryId: 'another-delivery-id',
        timestamp: Math.floor(Date.now() / 1000),
      }),
    );
    expect(again.status).toBe(200);
    expect(again.body?.['duplicate']).toBeUndefined();

    // Processed in order: once the next answer is in, the repeats were handled.
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Second answer' });
    await waitForAnswer(h, CHANNEL, root.ts, 'Second answer');
    expect(answersIn(h, CHANNEL, root.ts).filter((reply) => reply.text.includes('When will it arrive?'))).toHaveLength(
      1,
    );
    expect(answersIn(h, CHANNEL, root.ts)).toHaveLength(2);
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
  });

  test('a conversation with no thread of ours: nothing is posted anywhere', async () => {
    const h = await startWithWebhook();
    const quiet = h.customer({ name: 'Never Contacted' });
    const known = h.customer({ name: 'Known Customer' });
    await h.command(`send ${known.conversationId} Hello from Slack`);
    const { root } = await threadReaches(h, CHANNEL, known.conversationId, /Sent|Delivered/);

    h.chatwoot.addIncomingMessage(quiet.conversationId, { content: 'NO-THREAD message from a stranger' });
    h.chatwoot.addIncomingMessage(known.conversationId, { content: 'Barrier answer' });
    await waitForAnswer(h, CHANNEL, root.ts, 'Barrier answer');

    const everything = h.slack.messages();
    expect(everything.filter((message) => message.text.includes('NO-THREAD'))).toEqual([]);
    expect(
      h.slack.calls('chat.postEphemeral').filter((call) => String(call.args['text']).includes('NO-THREAD')),
    ).toEqual([]);
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
  });

  test('two threads for one conversation: the answer goes to the latest one only', async () => {
    const h = await startWithWebhook();
    h.slack.addChannel({ ...OTHER_CHANNEL, member: true });
    const { conversationId } = h.customer({ name: 'Two Threads' });
    await h.command(`send ${conversationId} First question`);
    const first = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await h.command(`send ${conversationId} Second question, from sales`, {
      channel_id: OTHER_CHANNEL.id,
      channel_name: OTHER_CHANNEL.name,
    });
    const second = await threadReaches(h, OTHER_CHANNEL.id, conversationId, /Sent|Delivered/);

    h.chatwoot.addIncomingMessage(conversationId, { content: 'Answer for the latest thread' });
    await waitForAnswer(h, OTHER_CHANNEL.id, second.root.ts, 'Answer for the latest thread');
    h.chatwoot.addIncomingMessage(conversationId, { content: 'And a second one' });
    await waitForAnswer(h, OTHER_CHANNEL.id, second.root.ts, 'And a second one');
    expect(answersIn(h, CHANNEL, first.root.ts)).toEqual([]);
    expect(answersIn(h, OTHER_CHANNEL.id, second.root.ts)).toHaveLength(2);
  });

  test('two threads in the same channel: the answer goes to the newer thread', async () => {
    const h = await startWithWebhook();
    const { conversationId } = h.customer({ name: 'Same Channel Twice' });
    await h.command(`send ${conversationId} Older send`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await h.command(`send ${conversationId} Newer send`);
    const newer = await eventually(() => {
      const roots = rootsIn(h, CHANNEL).filter((root) => root.text.includes('Newer send'));
      const root = roots[0];
      return root !== undefined && /Sent|Delivered/.test(h.slack.thread(CHANNEL, root.ts)[0]?.text ?? '')
        ? root
        : undefined;
    }, 'the newer send’s thread');
    const older = rootsIn(h, CHANNEL).find((root) => root.text.includes('Older send'));
    if (older === undefined) throw new Error('no older thread');

    h.chatwoot.addIncomingMessage(conversationId, { content: 'Which one?' });
    await waitForAnswer(h, CHANNEL, newer.ts, 'Which one?');
    expect(answersIn(h, CHANNEL, older.ts)).toEqual([]);
  });

  test('the newer thread is where answers go as soon as it is in Slack, even while Slack is slow to take edits', async () => {
    const h = await startWithWebhook();
    const { conversationId, phone } = h.customer({ name: 'Quick Answerer' });
    await h.command(`send ${conversationId} Older send`);
    await threadReaches(h, CHANNEL, conversationId, /Delivered to Quick Answerer/);
    const older = rootsIn(h, CHANNEL)[0];
    if (older === undefined) throw new Error('no older thread');

    // The next send (by phone number: found in Chatwoot first) opens its thread at once; Slack is slow to take the
    // edits that follow (the status, the root naming the contact).
    h.chatwoot.setLatency(150);
    h.slack.fault('chat.update', { delayMs: 800, times: 4 });
    await h.command(`send ${phone} Newer send`);
    const newer = await eventually(() => {
      const root = rootsIn(h, CHANNEL).find((candidate) => candidate.text.includes('Newer send'));
      return root !== undefined && h.slack.thread(CHANNEL, root.ts)[0] !== undefined ? root : undefined;
    }, 'the newer thread with its status reply');
    await eventually(
      () => (outgoingTo(h, conversationId).length === 2 ? true : undefined),
      'the newer message to reach Chatwoot',
    );
    h.chatwoot.setLatency(0);

    // The customer answers the message just sent: the answer belongs under it, not under the older one.
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Answering the newer one' });
    const answer = await eventually(
      () => h.slack.messages(CHANNEL).find((message) => message.text.includes('Answering the newer one')),
      'the answer in Slack',
    );
    expect(
      answer.threadTs === older.ts
        ? 'the older thread'
        : answer.threadTs === newer.ts
          ? 'the newer thread'
          : 'elsewhere',
    ).toBe('the newer thread');
  });

  test('the window had closed: the answer is posted, and the next free-text send then goes out', async () => {
    const h = await startWithWebhook();
    const { conversationId } = h.customer({ name: 'Came Back', wrote: false });
    await h.command(`send ${conversationId} Are you still there?`);
    const failed = await threadReaches(h, CHANNEL, conversationId, /Failed/);
    expect(failed.replies[0]?.text).toMatch(/24-hour window|24 hours/);
    expect(outgoingTo(h, conversationId)).toEqual([]);

    h.chatwoot.addIncomingMessage(conversationId, { content: 'Yes, I am here now' });
    await waitForAnswer(h, CHANNEL, failed.root.ts, 'Yes, I am here now');

    await h.command(`send ${conversationId} Great, here is your update`);
    const sent = await eventually(() => {
      const root = rootsIn(h, CHANNEL).find((candidate) => candidate.text.includes('here is your update'));
      const status = root === undefined ? undefined : h.slack.thread(CHANNEL, root.ts)[0];
      return status !== undefined && /Sent|Delivered|Failed/.test(status.text) ? status : undefined;
    }, 'the second send’s status');
    expect(sent.text).toMatch(/Sent|Delivered/);
    expect(outgoingTo(h, conversationId).map((message) => message.content)).toEqual(['Great, here is your update']);
  });

  test('attachments are shown as links, and an answer without text still names the customer', async () => {
    const h = await startWithWebhook();
    const { conversationId } = h.customer({ name: 'Photo Sender' });
    await h.command(`send ${conversationId} Send me a photo please`);
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);

    // Chatwoot's payload for an incoming image (the fake seeds text only: the attachment is added to the payload).
    h.chatwoot.pauseWebhooks();
    const message = h.chatwoot.addIncomingMessage(conversationId, { content: '' });
    await h.chatwoot.whenWebhooksIdle();
    h.chatwoot.resumeWebhooks();
    const payload = h.chatwoot.webhookPayload('message_created', message.id);
    const withImage = {
      ...payload,
      content: null,
      attachments: [
        {
          id: 9001,
          message_id: message.id,
          file_type: 'image',
          data_url: 'https://chatwoot.example/rails/active_storage/blobs/photo.jpg',
          thumb_url: '',
          file_size: 1234,
        },
      ],
    };
    expect((await postWebhook(h, h.chatwoot.webhookRequest(withImage))).status).toBe(200);
    const answer = await eventually(() => answersIn(h, CHANNEL, root.ts)[0], 'the answer with the image');
    expect(answer.text).toContain('Photo Sender');
    expect(answer.text).toContain('https://chatwoot.example/rails/active_storage/blobs/photo.jpg');
    expect(answer.text).toContain('image');
  });

  test('a private note and the team’s own outgoing messages are not posted as answers', async () => {
    const h = await startWithWebhook();
    const { conversationId } = h.customer({ name: 'Note Test' });
    await h.command(`send ${conversationId} Checking in`);
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);

    h.chatwoot.addOutgoingMessage(conversationId, { content: 'PRIVATE-NOTE for agents', private: true });
    h.chatwoot.addOutgoingMessage(conversationId, { content: 'AGENT-REPLY from Chatwoot' });
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Barrier from the customer' });
    await waitForAnswer(h, CHANNEL, root.ts, 'Barrier from the customer');
    expect(
      threadFor(h, CHANNEL, conversationId)
        .replies.map((reply) => reply.text)
        .join('\n'),
    ).not.toMatch(/PRIVATE-NOTE|AGENT-REPLY/);
  });

  test('the customer cannot ping the channel or anyone: mentions and links in the answer are shown, not sent', async () => {
    const h = await startWithWebhook();
    const { conversationId } = h.customer({ name: 'Loud <!channel> Customer' });
    await h.command(`send ${conversationId} Hello`);
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    h.chatwoot.addIncomingMessage(conversationId, {
      content: 'Hey <!channel> <!here> <@U0ADMIN01> <https://evil.example|your invoice> & more',
    });
    const answer = await eventually(() => answersIn(h, CHANNEL, root.ts)[0], 'the answer');
    const blocks = JSON.stringify(answer.blocks ?? []);
    for (const shown of [answer.text, blocks]) {
      expect(shown).not.toMatch(/<!channel>|<!here>|<@U0ADMIN01>|<https:\/\/evil\.example/);
    }
    expect(answer.text).toContain('&lt;!channel&gt;');
    expect(answer.text).toContain('&amp; more');
  });
});
