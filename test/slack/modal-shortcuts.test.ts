import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS, type SlackMessage } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  appHarnesses,
  blockSuggestion,
  eventually,
  formBlock,
  formState,
  formSubmission,
  formText,
  latestView,
  META_TEMPLATES,
  messageShortcut,
  nextView,
  openSendForm,
  optionValues,
  outgoingTo,
  responseTexts,
  rootsIn,
  threadFor,
  threadReaches,
  tpl,
} from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const USER = SLACK_DEFAULTS.user;
const ALERTS = 'C0ALERTS01';
const { orderUpdate } = META_TEMPLATES;

/** Runs the message shortcut on `message` and waits for the form to be loaded. */
async function shortcutOn(
  h: AppHarness,
  channel: { id: string; name: string },
  message: { ts: string; text: string; threadTs?: string },
  responseUrl: string,
) {
  const before = h.slack.views().length;
  const answer = await h.interactive(messageShortcut({ channel, message, responseUrl }));
  expect(answer.status).toBe(200);
  const opened = await nextView(h, before, (record) => record.method === 'views.open', 'the form to open');
  const loaded = await nextView(
    h,
    before,
    (record) => record.method === 'views.update' && record.id === opened.id,
    'the form to load',
  );
  return { opened, loaded };
}

describe('the "Send to WhatsApp" message shortcut', () => {
  test('opens the form prefilled with the message as the core converts it (mentions become names)', async () => {
    const h = await start({ inbox: { messageTemplates: [orderUpdate] } });
    const text = '*Order 4411* has shipped, ask <@U0USER0001> &amp; co :package:';
    const ts = h.slack.addMessage({ channel: CHANNEL, text });
    const { opened, loaded } = await shortcutOn(h, SLACK_DEFAULTS.channel, { ts, text }, h.slack.responseUrl());
    // No channel picker: the result goes in the message's thread, and the form says so.
    expect(formBlock(loaded, 'channel')).toBeUndefined();
    expect(formText(loaded)).toMatch(/thread of the message/);
    expect(formBlock(loaded, 'text')?.element?.initial_value).toBe(formBlock(opened, 'text')?.element?.initial_value);

    const prefilled = formBlock(opened, 'text')?.element?.initial_value ?? '';
    expect(prefilled).toContain('*Order 4411* has shipped');
    expect(prefilled).toContain(' & co');
    expect(prefilled).not.toContain('&amp;');
    expect(prefilled).toContain('📦');
    // A mention becomes the person's name, as the core converts it for WhatsApp (`/whatsapp send` does so too).
    expect(prefilled).not.toContain('U0USER0001');
    expect(prefilled).toContain('@Jane Doe');
  });

  test('submitting puts the status reply in THAT message’s thread, with no new root', async () => {
    const h = await start();
    const { conversationId } = h.customer({ name: 'Shortcut Customer' });
    const text = '*Order 4411* has shipped';
    const ts = h.slack.addMessage({ channel: CHANNEL, text });
    const { loaded } = await shortcutOn(h, SLACK_DEFAULTS.channel, { ts, text }, h.slack.responseUrl());
    const submitted = await h.interactive(
      formSubmission({
        view: latestView(h, loaded.id) ?? loaded,
        values: formState({
          conversation: `c:${conversationId}`,
          kind: 'text',
          text: formBlock(loaded, 'text')?.element?.initial_value ?? '',
        }),
      }),
    );
    expect(submitted.body).toBeUndefined();
    const reply = await eventually(
      () => h.slack.thread(CHANNEL, ts).find((message) => /Sent|Delivered/.test(message.text)),
      'the status reply in the message’s thread',
    );
    expect(reply.text).toContain(`<@${USER.id}> → WhatsApp`);
    expect(reply.threadTs).toBe(ts);
    expect(h.slack.thread(CHANNEL, ts)).toHaveLength(1);
    // No new root: the channel still holds only the picked message.
    expect(rootsIn(h, CHANNEL).map((message) => message.ts)).toEqual([ts]);
    expect(outgoingTo(h, conversationId).map((message) => message.content)).toEqual(['**Order 4411** has shipped']);
  });

  test('on a message in a channel outside SLACK_ALLOWED_CHANNELS: the form refuses, nothing sent', async () => {
    const h = await start({ env: { SLACK_ALLOWED_CHANNELS: 'C0ALLOWED1' } });
    h.slack.addChannel({ id: 'C0ALLOWED1', name: 'whatsapp' });
    const { conversationId } = h.customer({ name: 'Elsewhere' });
    const ts = h.slack.addMessage({ channel: CHANNEL, text: 'Tell her' });
    const { loaded } = await shortcutOn(h, SLACK_DEFAULTS.channel, { ts, text: 'Tell her' }, h.slack.responseUrl());
    const answer = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'Tell her' }),
      }),
    );
    expect(answer.body?.['response_action']).toBe('errors');
    expect(JSON.stringify(answer.body?.['errors'])).toContain('C0ALLOWED1');
    expect(outgoingTo(h, conversationId)).toEqual([]);
    expect(h.slack.thread(CHANNEL, ts)).toEqual([]);
  });

  test('a long message: the prefilled text and private_metadata stay within Slack’s limits', async () => {
    const h = await start();
    const text = `${'He said "ship it"\n'.repeat(250)}${'x'.repeat(2_000)}`;
    const ts = h.slack.addMessage({ channel: CHANNEL, text });
    const { opened, loaded } = await shortcutOn(h, SLACK_DEFAULTS.channel, { ts, text }, h.slack.responseUrl());
    for (const record of [opened, loaded]) {
      expect(String(record.view['private_metadata']).length).toBeLessThanOrEqual(3000);
      expect((formBlock(record, 'text')?.element?.initial_value ?? '').length).toBeLessThanOrEqual(3000);
      expect(formBlock(record, 'text')?.element?.initial_value).toMatch(/^He said "ship it"/);
    }
  });

  test('on a reply inside a thread, the result goes in that same thread', async () => {
    const h = await start();
    const { conversationId } = h.customer({ name: 'Thread Reply' });
    const parent = h.slack.addMessage({ channel: CHANNEL, text: 'Customer escalation' });
    const reply = h.slack.addMessage({ channel: CHANNEL, text: 'Tell her it shipped', threadTs: parent });
    const { loaded } = await shortcutOn(
      h,
      SLACK_DEFAULTS.channel,
      { ts: reply, text: 'Tell her it shipped', threadTs: parent },
      h.slack.responseUrl(),
    );
    await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'It shipped' }),
      }),
    );
    await eventually(
      () => h.slack.thread(CHANNEL, parent).find((message) => /Sent|Delivered/.test(message.text)),
      'the status reply in the parent’s thread',
    );
    expect(rootsIn(h, CHANNEL).map((message) => message.ts)).toEqual([parent]);
  });

  test('in a private channel the bot is not in: the thread moves to the user’s DM and response_url says why', async () => {
    const h = await start();
    const { conversationId } = h.customer({ name: 'Private Channel' });
    const secret = { id: 'G0SECRET01', name: 'secret-deals' };
    h.slack.addChannel({ ...secret, isPrivate: true, member: false });
    const ts = h.slack.addMessage({ channel: secret.id, text: 'Please tell the customer' });
    const responseUrl = h.slack.responseUrl();
    const { loaded } = await shortcutOn(h, secret, { ts, text: 'Please tell the customer' }, responseUrl);
    const submitted = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'Your order has shipped' }),
      }),
    );
    expect(submitted.body).toBeUndefined();
    const dm = h.slack.dmChannelId(USER.id);
    await threadReaches(h, dm, conversationId, /Sent|Delivered/);
    const told = await eventually(
      () => responseTexts(h).find((text) => text.includes('DM')),
      'the user to be told where the thread went',
    );
    expect(told).toContain(`<#${secret.id}>`);
    expect(told).toMatch(/invite/);
    expect(h.slack.messages(secret.id).filter((message) => message.user === h.slack.botUserId)).toEqual([]);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
  });
});

describe('where the result goes when the bot cannot post there', () => {
  test('find → Send… in a private channel the bot is not in: the find’s response_url says the thread moved to the DM', async () => {
    const h = await start();
    const secret = { id: 'G0SECRET02', name: 'secret-sales' };
    h.slack.addChannel({ ...secret, isPrivate: true, member: false });
    const { conversationId } = h.customer({ name: 'Found Privately' });
    const responseUrl = h.slack.responseUrl();
    const found = await h.command('find Found Privately', {
      channel_id: secret.id,
      channel_name: secret.name,
      response_url: responseUrl,
    });
    expect(String(found.body?.['text'])).toMatch(/Searching/);
    const before = h.slack.views().length;
    await h.click({
      actionId: 'find_send',
      value: String(conversationId),
      label: 'Send…',
      isEphemeral: true,
      channel: secret,
      responseUrl,
    });
    const opened = await nextView(h, before, (record) => record.method === 'views.open', 'the form');
    expect(formBlock(opened, 'channel')?.element?.initial_conversation).toBe(secret.id);
    const loaded = await nextView(
      h,
      before,
      (record) => record.method === 'views.update' && record.id === opened.id,
      'the loaded form',
    );
    await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'Hello', channel: secret.id }),
      }),
    );
    await threadReaches(h, h.slack.dmChannelId(USER.id), conversationId, /Sent|Delivered/);
    const told = await eventually(
      () => responseTexts(h).find((text) => text.includes(`<#${secret.id}>`)),
      'the user to be told why the thread is in the DM',
      2_000,
    );
    expect(told).toMatch(/DM/);
  });

  test('global shortcut with a private result channel the bot is not in: the user is told, not left guessing', async () => {
    const h = await start();
    const secret = { id: 'G0SECRET03', name: 'secret-ops' };
    h.slack.addChannel({ ...secret, isPrivate: true, member: false });
    const { conversationId } = h.customer({ name: 'Moved Thread' });
    const { loaded } = await openSendForm(h);
    const answer = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'Hello', channel: secret.id }),
      }),
    );
    if (answer.body?.['response_action'] === 'errors') {
      // Refusing the channel in the form is fine too.
      expect(Object.keys((answer.body['errors'] ?? {}) as object)).toEqual(['channel']);
      return;
    }
    const dm = h.slack.dmChannelId(USER.id);
    const { root, replies } = await threadReaches(h, dm, conversationId, /Sent|Delivered/);
    const said = [root.text, ...replies.map((reply) => reply.text), ...h.slack.ephemerals().map((e) => e.text)];
    expect(said.join('\n')).toContain(`<#${secret.id}>`);
  });
});

describe('the form over Socket Mode', () => {
  test('global shortcut → template submission; a field error is the envelope’s ack payload', async () => {
    const h = await start({ mode: 'socket', inbox: { messageTemplates: [orderUpdate] } });
    const { conversationId } = h.customer({ name: 'Socket Customer', wrote: false });
    const { opened, loaded } = await openSendForm(h);
    expect(opened.method).toBe('views.open');
    expect(optionValues(loaded, 'kind')).toContain('whatsapp');

    const missing = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({
          conversation: `c:${conversationId}`,
          kind: 'whatsapp',
          whatsapp: tpl('order_update', 'en_US'),
          vars: { '1': 'Jane' },
          channel: CHANNEL,
        }),
      }),
    );
    const suggested = await h.interactive(blockSuggestion({ view: loaded, value: 'Socket Cust' }));
    expect(((suggested.body?.['options'] ?? []) as Array<{ value?: string }>).map((o) => o.value)).toEqual([
      `c:${conversationId}`,
    ]);
    expect(missing.body?.['response_action']).toBe('errors');
    expect(Object.keys((missing.body?.['errors'] ?? {}) as object)).toEqual(['var:2']);

    const ok = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({
          conversation: `c:${conversationId}`,
          kind: 'whatsapp',
          whatsapp: tpl('order_update', 'en_US'),
          vars: { '1': 'Jane', '2': '4411' },
          channel: CHANNEL,
        }),
      }),
    );
    expect(ok.body?.['response_action']).toBeUndefined();
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(outgoingTo(h, conversationId)[0]?.additionalAttributes['template_params']).toEqual({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      processed_params: { body: { '1': 'Jane', '2': '4411' } },
    });
  });
});

interface Block {
  accessory?: { action_id?: string; value?: string };
}

function retryButtons(message: SlackMessage | undefined): string[] {
  return ((message?.blocks ?? []) as Block[]).flatMap((block) =>
    block.accessory?.action_id === 'retry_send' && block.accessory.value !== undefined ? [block.accessory.value] : [],
  );
}

describe('Retry from an alert while the window is still closed', () => {
  test('opens the form on the approved templates with the conversation chosen; a template sent from it reports in the ORIGINAL thread', async () => {
    const h = await start({ env: { SLACK_ALERT_CHANNEL: ALERTS }, inbox: { messageTemplates: [orderUpdate] } });
    h.slack.addChannel({ id: ALERTS, name: 'whatsapp-alerts', member: true });
    const { conversationId } = h.customer({ name: 'Silent Customer', wrote: false });
    await h.command(`send ${conversationId} Your order has shipped`);
    const failed = await threadReaches(h, CHANNEL, conversationId, /Failed/);
    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the alert');
    const [sendId] = retryButtons(alert);

    const before = h.slack.views().length;
    await h.click({
      actionId: 'retry_send',
      value: sendId ?? '',
      label: 'Retry',
      channel: { id: ALERTS, name: 'whatsapp-alerts' },
      message: { ts: alert.ts, text: alert.text, blocks: alert.blocks ?? [] },
      triggerId: '13345777777.738474920.retrytrigger0001',
    });
    const opened = await nextView(h, before, (record) => record.method === 'views.open', 'the form to open');
    expect(opened.triggerId).toBe('13345777777.738474920.retrytrigger0001');
    expect(formBlock(opened, 'conversation')?.element?.initial_option?.value).toBe(`c:${conversationId}`);
    expect(formBlock(opened, 'kind')?.element?.initial_option?.value).toBe('whatsapp');
    const loaded = await nextView(
      h,
      before,
      (record) => record.method === 'views.update' && record.id === opened.id,
      'the templates in the form',
    );
    expect(optionValues(loaded, 'wa_template')).toEqual([tpl('order_update', 'en_US')]);
    expect(formBlock(loaded, 'kind')?.element?.initial_option?.value).toBe('whatsapp');
    expect(formBlock(loaded, 'channel')).toBeUndefined();

    const submitted = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({
          conversation: `c:${conversationId}`,
          kind: 'whatsapp',
          whatsapp: tpl('order_update', 'en_US'),
          vars: { '1': 'Jane', '2': '4411' },
        }),
      }),
    );
    expect(submitted.body).toBeUndefined();
    const replies = await eventually(() => {
      const { replies: now } = threadFor(h, CHANNEL, conversationId);
      return now.length === 2 && /Sent|Delivered/.test(now[1]?.text ?? '') ? now : undefined;
    }, 'the retry’s status reply in the original thread');
    expect(replies[0]?.ts).toBe(failed.replies[0]?.ts);
    expect(replies[1]?.text).toContain(`Retry by <@${USER.id}>:`);
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
    const sent = outgoingTo(h, conversationId);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.additionalAttributes['template_params']).toMatchObject({ name: 'order_update' });
    // The alert keeps saying who retried, with no button left.
    expect(retryButtons(rootsIn(h, ALERTS)[0])).toEqual([]);
    expect(rootsIn(h, ALERTS)).toHaveLength(1);
  });
  test('Retry of free text to a number with no conversation opens the form on the templates for that number', async () => {
    const h = await start({ env: { SLACK_ALERT_CHANNEL: ALERTS }, inbox: { messageTemplates: [orderUpdate] } });
    h.slack.addChannel({ id: ALERTS, name: 'whatsapp-alerts', member: true });
    await h.command('send +14155550155 Hello, your order has shipped');
    await eventually(() => {
      const root = rootsIn(h, CHANNEL)[0];
      return root === undefined ? undefined : h.slack.thread(CHANNEL, root.ts).find((m) => /Failed/.test(m.text));
    }, 'the send to fail');
    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the alert');
    const [sendId] = retryButtons(alert);
    expect(sendId).toBeTruthy();
    const before = h.slack.views().length;
    await h.click({
      actionId: 'retry_send',
      value: sendId ?? '',
      channel: { id: ALERTS, name: 'whatsapp-alerts' },
      message: { ts: alert.ts, text: alert.text, blocks: alert.blocks ?? [] },
    });
    // The same text would fail the same way: a choice is needed, so the form opens (a template can start it).
    const opened = await nextView(h, before, (record) => record.method === 'views.open', 'the form to open', 2_000);
    expect(formBlock(opened, 'conversation')?.element?.initial_option?.value).toBe('p:+14155550155');
    expect(formBlock(opened, 'kind')?.element?.initial_option?.value).toBe('whatsapp');
    expect(h.chatwoot.conversations()).toEqual([]);
  });
});
