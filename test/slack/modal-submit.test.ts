import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  appHarnesses,
  eventually,
  type FormInput,
  formState,
  formSubmission,
  META_TEMPLATES,
  openSendForm,
  outgoingTo,
  rootsIn,
  threadReaches,
  tpl,
} from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const USER = SLACK_DEFAULTS.user;
const { orderUpdate, welcomeNamed, trackImage } = META_TEMPLATES;

const dir = mkdtempSync(join(tmpdir(), 'modal-submit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TEAM_FILE = join(dir, 'templates.yml');
writeFileSync(
  TEAM_FILE,
  [
    'templates:',
    '  - name: order-shipped',
    '    text: |',
    '      Hi {{name}}, your order *{{order}}* has shipped :package:',
    '',
  ].join('\n'),
);

async function startForm(env: Record<string, string> = {}): Promise<AppHarness> {
  return start({
    env: { TEMPLATES_FILE: TEAM_FILE, ...env },
    inbox: { messageTemplates: [orderUpdate, welcomeNamed, trackImage] },
  });
}

/** Opens the form with the global shortcut and submits it with `input`; returns the ack's body. */
async function submit(
  h: AppHarness,
  input: FormInput,
): Promise<{ viewId: string; body: Record<string, unknown> | undefined }> {
  const { loaded } = await openSendForm(h);
  const answer = await h.interactive(formSubmission({ view: loaded, values: formState(input) }));
  expect(answer.status).toBe(200);
  return { viewId: loaded.id, body: answer.body };
}

function fieldErrors(body: Record<string, unknown> | undefined): Record<string, string> {
  expect(body?.['response_action']).toBe('errors');
  const errors = body?.['errors'];
  return typeof errors === 'object' && errors !== null ? (errors as Record<string, string>) : {};
}

/** Waits a little for anything the app might still send, then checks nothing reached Chatwoot or Slack. */
async function nothingSent(h: AppHarness): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 150));
  const outgoing = h.chatwoot
    .conversations()
    .flatMap((conversation) => h.chatwoot.messages(conversation.id))
    .filter((message) => message.messageType === 'outgoing' || message.messageType === 'template');
  expect(outgoing).toEqual([]);
  expect(h.slack.calls('chat.postMessage')).toEqual([]);
}

describe('submitting the form (view_submission)', () => {
  test('an approved template to a closed window: template_params exactly as Chatwoot expects, a thread in the chosen channel', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Jane Template', wrote: false });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'whatsapp',
      whatsapp: tpl('order_update', 'en_US'),
      vars: { '1': 'Jane', '2': '4411' },
      channel: CHANNEL,
    });
    expect(body).toBeUndefined();

    const { root, replies } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    const sent = outgoingTo(h, conversationId);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.content).toBe('Hi Jane, your order 4411 has shipped.');
    expect(sent[0]?.additionalAttributes['template_params']).toEqual({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      processed_params: { body: { '1': 'Jane', '2': '4411' } },
    });
    expect(root.text).toContain(`<@${USER.id}>`);
    expect(root.text).toContain('Jane Template');
    expect(root.text).toContain('Hi Jane, your order 4411 has shipped.');
    expect(replies).toHaveLength(1);
    // A template does not open the window: the reply ends saying free text waits for the customer's answer.
    expect(replies[0]?.text).toMatch(/free text[^.]*(customer|they) (replies|reply|answers|writes)[^.]*\.$/i);
  });

  test('named variables, a media header and button values reach template_params in Chatwoot’s shape', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Named Vars', wrote: false });
    await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'whatsapp',
      whatsapp: tpl('welcome_named', 'en'),
      vars: { customer_name: 'Jane', discount_code: 'WELCOME10', button_0: 'WELCOME10' },
      channel: CHANNEL,
    });
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(outgoingTo(h, conversationId)[0]?.additionalAttributes['template_params']).toEqual({
      name: 'welcome_named',
      language: 'en',
      category: 'MARKETING',
      processed_params: {
        body: { customer_name: 'Jane', discount_code: 'WELCOME10' },
        buttons: [{ type: 'copy_code', parameter: 'WELCOME10' }],
      },
    });

    const other = h.customer({ name: 'Media Header', wrote: false });
    await submit(h, {
      conversation: `c:${other.conversationId}`,
      kind: 'whatsapp',
      whatsapp: tpl('track_parcel', 'en_GB'),
      vars: { header_media_url: 'https://cdn.example/parcel.png', '1': 'AB12', button_1: 'AB12' },
      channel: CHANNEL,
    });
    await threadReaches(h, CHANNEL, other.conversationId, /Sent|Delivered/);
    expect(outgoingTo(h, other.conversationId)[0]?.additionalAttributes['template_params']).toEqual({
      name: 'track_parcel',
      language: 'en_GB',
      category: 'UTILITY',
      processed_params: {
        header: { media_url: 'https://cdn.example/parcel.png', media_type: 'image' },
        body: { '1': 'AB12' },
        buttons: [null, { type: 'url', parameter: 'AB12' }],
      },
    });
  });

  test('missing variables: errors on exactly those fields, nothing sent', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Missing Vars', wrote: false });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'whatsapp',
      whatsapp: tpl('order_update', 'en_US'),
      vars: { '1': 'Jane', '2': '   ' },
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(Object.keys(errors)).toEqual(['var:2']);
    expect(errors['var:2']).toMatch(/missing/);
    for (const message of Object.values(errors)) expect(message.length).toBeLessThanOrEqual(150);
    await nothingSent(h);
  });

  test('free text while the window is closed: an error on the kind pointing to the templates, nothing sent', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Closed Window', wrote: false });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'text',
      text: 'Your order has shipped',
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(Object.keys(errors)).toEqual(['kind']);
    expect(errors['kind']).toMatch(/24-hour window/);
    expect(errors['kind']).toMatch(/template/);
    await nothingSent(h);
  });

  test('a team snippet is free text too: refused the same way when the window is closed', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Closed Snippet', wrote: false });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'team',
      team: 'order-shipped',
      vars: { name: 'Jane', order: '4411' },
      channel: CHANNEL,
    });
    expect(Object.keys(fieldErrors(body))).toEqual(['kind']);
    await nothingSent(h);
  });

  test('free text to a number with no conversation: an error (only a template can start one)', async () => {
    const h = await startForm();
    const { body } = await submit(h, {
      conversation: 'p:+14155550188',
      kind: 'text',
      text: 'Hello there',
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(errors['kind']).toMatch(/template/);
    await nothingSent(h);
    expect(h.chatwoot.conversations()).toEqual([]);
  });

  test('a template to a new number: Chatwoot contact and conversation created, one message with template_params', async () => {
    const h = await startForm();
    const { body } = await submit(h, {
      conversation: 'p:+14155550188',
      kind: 'whatsapp',
      whatsapp: tpl('order_update', 'en_US'),
      vars: { '1': 'Sam', '2': '5522' },
      channel: CHANNEL,
    });
    expect(body).toBeUndefined();
    const conversation = await eventually(() => h.chatwoot.conversations()[0], 'the conversation to be created');
    expect(h.chatwoot.conversations()).toHaveLength(1);
    expect(conversation.inboxId).toBe(h.inbox.id);
    expect(h.chatwoot.contact(conversation.contactId)?.phoneNumber).toBe('+14155550188');
    const { replies } = await threadReaches(h, CHANNEL, conversation.id, /Sent|Delivered/);
    expect(replies).toHaveLength(1);
    const sent = outgoingTo(h, conversation.id);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.additionalAttributes['template_params']).toEqual({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      processed_params: { body: { '1': 'Sam', '2': '5522' } },
    });
  });

  test('a template to a known contact with no WhatsApp conversation: the conversation is created for that contact', async () => {
    const h = await startForm();
    const contact = h.chatwoot.addContact({ name: 'Known Contact', phoneNumber: '+14155550144' });
    const { body } = await submit(h, {
      conversation: 'p:+14155550144',
      kind: 'whatsapp',
      whatsapp: tpl('order_update', 'en_US'),
      vars: { '1': 'Kim', '2': '7' },
      channel: CHANNEL,
    });
    expect(body).toBeUndefined();
    const conversation = await eventually(() => h.chatwoot.conversations()[0], 'the conversation');
    expect(conversation.contactId).toBe(contact.id);
    await threadReaches(h, CHANNEL, conversation.id, /Sent|Delivered/);
    expect(h.chatwoot.conversations()).toHaveLength(1);
    expect(outgoingTo(h, conversation.id)).toHaveLength(1);
  });

  test('the template list cannot be read at submission: the error says so (not "choose a template")', async () => {
    const h = await startForm({ TEMPLATE_CACHE_TTL_SECONDS: '0' });
    const { conversationId } = h.customer({ name: 'Chatwoot Down', wrote: false });
    const { loaded } = await openSendForm(h);
    h.chatwoot.fault({ type: 'status', status: 503, times: 5, match: { method: 'GET', path: /\/inboxes$/ } });
    const answer = await h.interactive(
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
    const errors = fieldErrors(answer.body);
    const said = Object.values(errors).join(' ');
    expect(said).toMatch(/Chatwoot|try again/i);
    expect(said).not.toBe('Choose a template.');
  });

  test('free text to a conversation in a non-WhatsApp inbox: an error on the conversation', async () => {
    const h = await startForm();
    const email = h.chatwoot.addInbox({ name: 'Support Email', channelType: 'Channel::Email' });
    const contact = h.chatwoot.addContact({ name: 'Email Person', email: 'person@example.com' });
    const conversation = h.chatwoot.addConversation({ inboxId: email.id, contactId: contact.id });
    h.chatwoot.addIncomingMessage(conversation.id, { content: 'Hi', at: Date.now() - 60_000 });
    const { body } = await submit(h, {
      conversation: `c:${conversation.id}`,
      kind: 'text',
      text: 'Hello',
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(Object.keys(errors)).toEqual(['conversation']);
    expect(errors['conversation']).toMatch(/not WhatsApp/);
    await nothingSent(h);
  });

  test('a template to a conversation in a non-WhatsApp inbox: an error on the conversation too, not a failed thread', async () => {
    const h = await startForm();
    const email = h.chatwoot.addInbox({ name: 'Support Email', channelType: 'Channel::Email' });
    const contact = h.chatwoot.addContact({ name: 'Email Person', email: 'person@example.com' });
    const conversation = h.chatwoot.addConversation({ inboxId: email.id, contactId: contact.id });
    const { body } = await submit(h, {
      conversation: `c:${conversation.id}`,
      kind: 'whatsapp',
      whatsapp: tpl('order_update', 'en_US'),
      vars: { '1': 'Jane', '2': '4411' },
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(Object.keys(errors)).toEqual(['conversation']);
    expect(errors['conversation']).toMatch(/not WhatsApp/);
    await nothingSent(h);
  });

  test('a text over the limit (a crafted submission past the field’s max_length): an error on the text', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Long Text' });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'text',
      text: 'word '.repeat(10_000),
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(Object.keys(errors)).toEqual(['text']);
    expect(errors['text']).toMatch(/characters/);
    await nothingSent(h);
  });

  test('a team snippet: the filled text is sent as free text, values shown as typed (never mentions or links)', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Snippet Customer' });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'team',
      team: 'order-shipped',
      vars: { name: 'Jane <@U0USER0001> & co', order: 'A&B-4411' },
      channel: CHANNEL,
    });
    expect(body).toBeUndefined();
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    const sent = outgoingTo(h, conversationId);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.additionalAttributes['template_params']).toBeUndefined();
    const content = sent[0]?.content ?? '';
    expect(content).toMatch(/^Hi Jane \\?<@U0USER0001\\?> & co, your order \*\*A&B-4411\*\* has shipped 📦\s*$/);
    // The thread quotes it without pinging anyone: the only mention is the sender's, in the headline.
    expect(root.text.match(/<@U0USER0001>/g)).toHaveLength(1);
    expect(root.text).toMatch(/^:speech_balloon: <@U0USER0001> → WhatsApp/);
  });

  test('the same view submitted twice (Slack retries) sends once', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Twice Submitted' });
    const { loaded } = await openSendForm(h);
    const submission = formSubmission({
      view: loaded,
      values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'Only once', channel: CHANNEL }),
    });
    const [first, second] = await Promise.all([h.interactive(submission), h.interactive(submission)]);
    expect(first.body?.['response_action']).toBeUndefined();
    expect(second.body?.['response_action']).toBeUndefined();
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await h.interactive(submission);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
  });

  test('a result channel outside SLACK_ALLOWED_CHANNELS: an error on the channel, nothing sent', async () => {
    const h = await startForm({ SLACK_ALLOWED_CHANNELS: 'C0ALLOWED1' });
    h.slack.addChannel({ id: 'C0ALLOWED1', name: 'whatsapp' });
    const { conversationId } = h.customer({ name: 'Wrong Channel' });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'text',
      text: 'Hello',
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(Object.keys(errors)).toEqual(['channel']);
    expect(errors['channel']).toMatch(/channel/);
    expect(errors['channel']?.length).toBeLessThanOrEqual(150);
    await nothingSent(h);

    // The allowed channel works.
    const { body: ok } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'text',
      text: 'Hello',
      channel: 'C0ALLOWED1',
    });
    expect(ok).toBeUndefined();
    await threadReaches(h, 'C0ALLOWED1', conversationId, /Sent|Delivered/);
  });

  test('an approved template kind with no template chosen, or a snippet with a value missing: field errors', async () => {
    const h = await startForm();
    const { conversationId } = h.customer({ name: 'Half Filled' });
    const { body } = await submit(h, { conversation: `c:${conversationId}`, kind: 'whatsapp', channel: CHANNEL });
    expect(Object.keys(fieldErrors(body))).toEqual(['wa_template']);
    const { body: snippet } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'team',
      team: 'order-shipped',
      vars: { name: 'Jane' },
      channel: CHANNEL,
    });
    expect(Object.keys(fieldErrors(snippet))).toEqual(['var:order']);
    await nothingSent(h);
  });

  test('someone not in SLACK_ALLOWED_USERS: an error in the form, nothing sent', async () => {
    const h = await startForm({ SLACK_ALLOWED_USERS: 'U0SOMEONE1' });
    const { conversationId } = h.customer({ name: 'Not Allowed' });
    const { body } = await submit(h, {
      conversation: `c:${conversationId}`,
      kind: 'text',
      text: 'Hello',
      channel: CHANNEL,
    });
    const errors = fieldErrors(body);
    expect(Object.values(errors).join(' ')).toMatch(/SLACK_ALLOWED_USERS|not on the list/);
    await nothingSent(h);
  });

  test('no conversation chosen, or no result channel: errors on those fields', async () => {
    const h = await startForm();
    const { body } = await submit(h, { kind: 'text', text: 'Hello', channel: CHANNEL });
    expect(Object.keys(fieldErrors(body))).toEqual(['conversation']);
    const { conversationId } = h.customer({ name: 'No Channel' });
    const { body: noChannel } = await submit(h, { conversation: `c:${conversationId}`, kind: 'text', text: 'Hello' });
    expect(Object.keys(fieldErrors(noChannel))).toEqual(['channel']);
    await nothingSent(h);
  });
});
