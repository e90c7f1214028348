import { randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { replyIntent } from '../../src/slack/thread-replies.ts';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  appHarnesses,
  eventually,
  formState,
  formSubmission,
  formText,
  messageShortcut,
  nextView,
} from '../helpers/slack-app-harness.ts';
import { postSigned } from '../helpers/slack-requests.ts';

const start = appHarnesses();
const CHANNEL = SLACK_DEFAULTS.channel.id;
const BOT = SLACK_DEFAULTS.botUserId;
const USER = SLACK_DEFAULTS.user.id;

/** A message event as Slack delivers it (Events API over HTTP, or a Socket Mode envelope). */
async function deliver(h: AppHarness, event: Record<string, unknown>, retry?: number): Promise<number> {
  const body = {
    token: 'verification-token',
    team_id: SLACK_DEFAULTS.teamId,
    api_app_id: SLACK_DEFAULTS.appId,
    type: 'event_callback',
    event_id: `Ev${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    event: { channel_type: 'channel', ...event },
  };
  if (h.mode === 'socket') {
    await h.slack.socket.send(
      'events_api',
      body,
      retry === undefined ? {} : { retryAttempt: retry, retryReason: 'timeout' },
    );
    return 200;
  }
  const response = await postSigned(`${h.url}/slack/events`, JSON.stringify(body), {
    secret: SLACK_DEFAULTS.signingSecret,
    contentType: 'application/json',
    ...(retry === undefined
      ? {}
      : { headers: { 'x-slack-retry-num': String(retry), 'x-slack-retry-reason': 'http_timeout' } }),
  });
  return response.status;
}

/** Sends a message and waits for its thread; returns the root ts. */
async function threadWithSend(h: AppHarness, conversationId: number): Promise<string> {
  await h.command(`send ${conversationId} Your order has shipped`);
  return eventually(() => {
    const root = h.slack.messages(CHANNEL).find((message) => message.threadTs === undefined);
    const reply = root === undefined ? undefined : h.slack.thread(CHANNEL, root.ts)[0];
    return root !== undefined && /Sent|Delivered|Read/.test(reply?.text ?? '') ? root.ts : undefined;
  }, 'the send’s thread');
}

const outgoing = (h: AppHarness, conversationId: number) =>
  h.chatwoot.messages(conversationId).filter((message) => message.messageType === 'outgoing');

/** A human's reply in the thread: added to the fake Slack (so reactions can find it), then delivered as an event. */
async function reply(h: AppHarness, rootTs: string, text: string, extra: Record<string, unknown> = {}, retry?: number) {
  const ts = h.slack.addMessage({ channel: CHANNEL, text, user: USER, threadTs: rootTs });
  await deliver(h, { type: 'message', channel: CHANNEL, user: USER, text, ts, thread_ts: rootTs, ...extra }, retry);
  return ts;
}

describe('what a thread reply asks for', () => {
  test('only replies that address the app go out; note: makes a private note', () => {
    expect(replyIntent('<@U0BOT00001> Thanks!', 'U0BOT00001', undefined)).toEqual({ kind: 'text', text: 'Thanks!' });
    expect(replyIntent('wa: Thanks!', 'U0BOT00001', 'wa:')).toEqual({ kind: 'text', text: 'Thanks!' });
    expect(replyIntent('Thanks!', 'U0BOT00001', undefined)).toEqual({ kind: 'internal' });
    expect(replyIntent('cc <@U0BOT00001> later', 'U0BOT00001', undefined)).toEqual({ kind: 'internal' });
    expect(replyIntent('note: called her', 'U0BOT00001', undefined)).toEqual({ kind: 'note', text: 'called her' });
    expect(replyIntent('<@U0BOT00001> note: called her', 'U0BOT00001', undefined)).toEqual({
      kind: 'note',
      text: 'called her',
    });
  });
});

describe.each(['http', 'socket'] as const)('replies typed in a send’s thread (%s mode)', (mode) => {
  test('a reply that mentions the bot goes to the customer once, with 📤 and a status line; others stay internal', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer({ name: 'Jane Doe' });
    const rootTs = await threadWithSend(h, conversationId);

    await reply(h, rootTs, 'Shall we refund her?');
    const forwardedTs = await reply(h, rootTs, `<@${BOT}> Thanks Jane, a refund is on its way &amp; confirmed`);
    // Slack retries an event it thinks was lost: same message, same ts.
    await deliver(
      h,
      {
        type: 'message',
        channel: CHANNEL,
        user: USER,
        text: `<@${BOT}> Thanks Jane, a refund is on its way &amp; confirmed`,
        ts: forwardedTs,
        thread_ts: rootTs,
      },
      1,
    );

    await eventually(() => (outgoing(h, conversationId).length === 2 ? true : undefined), 'the reply in Chatwoot');
    const status = await eventually(
      () =>
        h.slack
          .thread(CHANNEL, rootTs)
          .find(
            (message) =>
              message.text.includes(`<@${USER}> → WhatsApp:`) && /Accepted|Sent|Delivered|Read/.test(message.text),
          ),
      'the reply’s status line',
    );
    expect(outgoing(h, conversationId).map((message) => message.content)).toEqual([
      'Your order has shipped',
      'Thanks Jane, a refund is on its way & confirmed',
    ]);
    expect(h.slack.messages(CHANNEL).find((message) => message.ts === forwardedTs)?.reactions).toEqual(['outbox_tray']);
    expect(status.text).toMatch(/Accepted|Sent|Delivered|Read/);
  });
});

describe('replies in a thread', () => {
  test('note: makes a private note in Chatwoot, never sent to WhatsApp', async () => {
    const h = await start();
    const { conversationId } = h.customer();
    const rootTs = await threadWithSend(h, conversationId);
    await reply(h, rootTs, 'note: customer called, wants a refund');
    await eventually(
      () => (h.chatwoot.messages(conversationId).some((message) => message.private) ? true : undefined),
      'the private note',
    );
    expect(
      h.chatwoot
        .messages(conversationId)
        .filter((message) => message.private)
        .map((m) => m.content),
    ).toEqual(['customer called, wants a refund']);
    expect(outgoing(h, conversationId).filter((message) => !message.private)).toHaveLength(1);
  });

  test('editing or deleting a forwarded reply is answered: not changed on WhatsApp', async () => {
    const h = await start();
    const { conversationId } = h.customer();
    const rootTs = await threadWithSend(h, conversationId);
    const ts = await reply(h, rootTs, `<@${BOT}> See you Monday`);
    await eventually(() => (outgoing(h, conversationId).length === 2 ? true : undefined), 'the reply in Chatwoot');
    await deliver(h, {
      type: 'message',
      subtype: 'message_changed',
      channel: CHANNEL,
      ts: `${ts}9`,
      message: {
        type: 'message',
        user: USER,
        text: `<@${BOT}> See you Tuesday`,
        ts,
        thread_ts: rootTs,
        edited: { user: USER, ts: '1' },
      },
      previous_message: { type: 'message', user: USER, text: `<@${BOT}> See you Monday`, ts, thread_ts: rootTs },
    });
    await deliver(h, {
      type: 'message',
      subtype: 'message_deleted',
      channel: CHANNEL,
      ts: `${ts}8`,
      deleted_ts: ts,
      previous_message: { type: 'message', user: USER, text: `<@${BOT}> See you Monday`, ts, thread_ts: rootTs },
    });
    const thread = await eventually(() => {
      const texts = h.slack.thread(CHANNEL, rootTs).map((message) => message.text);
      return texts.some((text) => /edited in Slack/.test(text)) && texts.some((text) => /deleted in Slack/.test(text))
        ? texts
        : undefined;
    }, 'both answers');
    expect(thread.join('\n')).toMatch(/customer still has the first version/);
    expect(outgoing(h, conversationId)).toHaveLength(2);
  });

  test('bot messages, replies outside our threads and people not allowed to send never reach WhatsApp', async () => {
    const h = await start({ env: { SLACK_ALLOWED_USERS: USER } });
    const { conversationId } = h.customer();
    const rootTs = await threadWithSend(h, conversationId);
    await deliver(h, {
      type: 'message',
      subtype: 'bot_message',
      bot_id: 'B0OTHER001',
      channel: CHANNEL,
      text: `<@${BOT}> loop?`,
      ts: h.slack.addMessage({ channel: CHANNEL, text: 'x', threadTs: rootTs }),
      thread_ts: rootTs,
    });
    const otherRoot = h.slack.addMessage({ channel: CHANNEL, text: 'unrelated', user: USER });
    await reply(h, otherRoot, `<@${BOT}> not ours`);
    h.slack.addUser({ id: 'U0OTHER001', name: 'mallory' });
    const ts = h.slack.addMessage({ channel: CHANNEL, text: `<@${BOT}> hi`, user: 'U0OTHER001', threadTs: rootTs });
    await deliver(h, {
      type: 'message',
      channel: CHANNEL,
      user: 'U0OTHER001',
      text: `<@${BOT}> hi`,
      ts,
      thread_ts: rootTs,
    });
    const refusal = await eventually(
      () => h.slack.ephemerals().find((ephemeral) => ephemeral.user === 'U0OTHER001'),
      'the refusal',
    );
    expect(refusal.text).toMatch(/not on the list/);
    expect(outgoing(h, conversationId)).toHaveLength(1);
  });
});

describe('files posted in a send’s thread', () => {
  const pdf = new Uint8Array(Buffer.from('%PDF-1.4\n% invoice 4411\n'.repeat(200)));

  test('go to the customer as an attachment, the text as caption, streamed from Slack with the bot token', async () => {
    const h = await start();
    const { conversationId } = h.customer();
    const rootTs = await threadWithSend(h, conversationId);
    const file = h.slack.addFile({ name: 'invoice-4411.pdf', mimetype: 'application/pdf', bytes: pdf });
    await reply(h, rootTs, `<@${BOT}> Here is your invoice`, { subtype: 'file_share', files: [file] });
    const sent = await eventually(
      () => outgoing(h, conversationId).find((message) => message.attachments.length > 0),
      'the attachment in Chatwoot',
    );
    expect(sent.content).toBe('Here is your invoice');
    expect(sent.attachments).toEqual([
      expect.objectContaining({
        filename: 'invoice-4411.pdf',
        contentType: 'application/pdf',
        size: pdf.byteLength,
      }),
    ]);
    expect(h.slack.fileDownloads()).toEqual([{ id: file.id, authorized: true }]);
  });

  test('a file WhatsApp would refuse is refused at once, with the reason, and nothing is sent', async () => {
    const h = await start();
    const { conversationId } = h.customer();
    const rootTs = await threadWithSend(h, conversationId);
    const big = h.slack.addFile({ name: 'photo.png', mimetype: 'image/png', bytes: new Uint8Array(6 * 1024 * 1024) });
    const gif = h.slack.addFile({ name: 'party.gif', mimetype: 'image/gif', bytes: new Uint8Array(10) });
    await reply(h, rootTs, `<@${BOT}> look`, { subtype: 'file_share', files: [big, gif] });
    const refusal = await eventually(
      () => h.slack.thread(CHANNEL, rootTs).find((message) => message.text.includes('nothing was sent')),
      'the refusal',
    );
    expect(refusal.text).toMatch(/photo\.png is 6\.0 MB; WhatsApp takes image files up to 5\.0 MB/);
    expect(refusal.text).toMatch(/does not take party\.gif/);
    expect(outgoing(h, conversationId)).toHaveLength(1);
    expect(h.slack.fileDownloads()).toEqual([]);
  });

  test('without files:read Slack will not hand the file over: the thread says what to fix', async () => {
    const h = await start({
      slack: { scopes: [...SLACK_DEFAULTS.scopes].filter((scope) => scope !== 'files:read') },
    });
    const { conversationId } = h.customer();
    const rootTs = await threadWithSend(h, conversationId);
    const file = h.slack.addFile({ name: 'invoice.pdf', mimetype: 'application/pdf', bytes: pdf });
    await reply(h, rootTs, `<@${BOT}> invoice`, { subtype: 'file_share', files: [file] });
    const failed = await eventually(
      () =>
        h.slack
          .thread(CHANNEL, rootTs)
          .find((message) => /Failed/.test(message.text) && /files:read/.test(message.text)),
      'the failure',
    );
    expect(failed.text).toMatch(/reinstall the Slack app/);
    expect(outgoing(h, conversationId)).toHaveLength(1);
  });
});

describe('customers’ answers without a webhook', () => {
  test('are found by reading the conversation and posted in its thread once; the window opens again', async () => {
    const h = await start();
    const { conversationId } = h.customer({ name: 'Jane Doe' });
    const rootTs = await threadWithSend(h, conversationId);
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Great, thanks! <3' });
    const answer = await eventually(
      () => h.slack.thread(CHANNEL, rootTs).find((message) => message.text.includes('answered on WhatsApp')),
      'the answer in the thread',
    );
    expect(answer.text).toContain('*Jane Doe* answered on WhatsApp');
    expect(answer.text).toContain('> Great, thanks! &lt;3');
    // Another look later must not post it again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(
      h.slack.thread(CHANNEL, rootTs).filter((message) => message.text.includes('answered on WhatsApp')),
    ).toHaveLength(1);
  });
});

describe('the "Send to WhatsApp" shortcut on a message with a file', () => {
  test('sends the file too, the text as its caption, and reports in that message’s thread', async () => {
    const h = await start();
    const { conversationId } = h.customer({ name: 'Jane Doe' });
    const file = h.slack.addFile({
      name: 'quote.pdf',
      mimetype: 'application/pdf',
      bytes: new Uint8Array(Buffer.from('%PDF-1.4 quote')),
    });
    const ts = h.slack.addMessage({ channel: CHANNEL, text: 'Here is the quote', user: USER });
    const payload = messageShortcut({
      channel: { id: CHANNEL, name: SLACK_DEFAULTS.channel.name },
      message: { ts, text: 'Here is the quote' },
      responseUrl: h.slack.responseUrl(),
    }) as { message: Record<string, unknown> };
    payload.message['files'] = [file];
    const before = h.slack.views().length;
    await h.interactive(payload);
    const opened = await nextView(h, before, (record) => record.method === 'views.open', 'the form');
    const loaded = await nextView(
      h,
      before,
      (record) => record.method === 'views.update' && record.id === opened.id,
      'the loaded form',
    );
    expect(formText(loaded)).toContain('quote.pdf');
    const answer = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'Here is the quote' }),
      }),
    );
    expect(answer.body).toBeUndefined();
    const sent = await eventually(
      () => outgoing(h, conversationId).find((message) => message.attachments.length === 1),
      'the file in Chatwoot',
    );
    expect(sent.content).toBe('Here is the quote');
    expect(outgoing(h, conversationId)).toHaveLength(1);
    await eventually(
      () =>
        h.slack.thread(CHANNEL, ts).some((message) => /Sent|Delivered|Read/.test(message.text)) ? true : undefined,
      'the status under the message',
    );
  });
});
