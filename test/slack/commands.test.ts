import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS, type SlackResponseUrlPost } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  appHarnesses,
  eventually,
  outgoingTo,
  rootsIn,
  threadReaches,
  viewSubmission,
} from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const USER = SLACK_DEFAULTS.user;

interface ReplyBody {
  text?: string;
  response_type?: string;
  replace_original?: boolean;
  blocks?: Array<{
    type: string;
    text?: { text?: string };
    accessory?: { action_id?: string; value?: string };
    elements?: Array<{ text?: string }>;
  }>;
}

function bodyOf(post: SlackResponseUrlPost | undefined): ReplyBody {
  return typeof post?.body === 'object' && post.body !== null ? (post.body as ReplyBody) : {};
}

/** The response_url post to the command's url whose text matches. */
function responseTo(h: AppHarness, responseUrl: string, pattern: RegExp): Promise<ReplyBody> {
  const id = responseUrl.slice(responseUrl.indexOf('/respond/') + '/respond/'.length);
  return eventually(
    () => {
      const found = h.slack.responses(id).find((post) => pattern.test(bodyOf(post).text ?? ''));
      return found === undefined ? undefined : bodyOf(found);
    },
    `a response_url post matching ${String(pattern)}`,
  );
}

function allText(body: ReplyBody): string {
  return [
    body.text ?? '',
    ...(body.blocks ?? []).flatMap((block) => [
      block.text?.text ?? '',
      ...(block.elements ?? []).map((element) => element.text ?? ''),
    ]),
  ].join('\n');
}

describe.each(['http', 'socket'] as const)('/whatsapp subcommands (%s mode)', (mode) => {
  test.each(['help', '', 'HELP'])('`%s` answers with the usage card, ephemerally', async (text) => {
    const h = await start({ mode });
    const answer = await h.command(text);
    expect(answer.status).toBe(200);
    expect(answer.body?.['response_type'] ?? 'ephemeral').toBe('ephemeral');
    const card = String(answer.body?.['text']);
    for (const word of ['send', 'note', 'find', 'status']) expect(card).toContain(`/whatsapp ${word} `);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
  });

  test('an unknown word answers with what was not understood and the usage card', async () => {
    const h = await start({ mode });
    const answer = await h.command('sned 57 hello there');
    expect(answer.body?.['response_type'] ?? 'ephemeral').toBe('ephemeral');
    const card = String(answer.body?.['text']);
    expect(card).toContain("I don't know `sned …`");
    for (const word of ['send', 'note', 'find', 'status']) expect(card).toContain(`/whatsapp ${word} `);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
  });

  test.each([
    ['note 57', /note <conversation> <text>/],
    ['find', /find <phone\|name\|email>/],
    ['status', /status <conversation>/],
  ])('a usage error (`%s`) answers at once with the correct usage', async (text, usage) => {
    const h = await start({ mode });
    const answer = await h.command(text);
    expect(answer.body?.['response_type']).toBe('ephemeral');
    expect(String(answer.body?.['text'])).toMatch(usage);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
    expect(h.slack.responses()).toEqual([]);
  });

  test('note: a private note in Chatwoot (never sent to WhatsApp), and the thread says so', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer({ name: 'Noted Customer', wrote: false });
    const answer = await h.command(`note ${conversationId} Called her, *refund* approved`);
    expect(String(answer.body?.['text'])).toMatch(/Private note for conversation #\d+ queued/);
    const { root, replies } = await threadReaches(h, CHANNEL, conversationId, /Private note added/);
    expect(root.text).toMatch(/added a private note/);
    expect(root.text).toContain('Noted Customer');
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toMatch(/not sent to WhatsApp/);
    const notes = h.chatwoot.messages(conversationId).filter((message) => message.private);
    expect(notes.map((message) => message.content)).toEqual(['Called her, **refund** approved']);
    expect(outgoingTo(h, conversationId)).toEqual([]);
  });

  test('find by phone: the contact, masked number, conversation, window, and a Send… button', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer({ name: 'Jane Findme', phone: '+442079460958' });
    const answer = await h.command('find +44 20 7946 0958');
    expect(answer.body?.['response_type']).toBe('ephemeral');
    expect(String(answer.body?.['text'])).toMatch(/Searching Chatwoot for \+44/);
    expect(String(answer.body?.['text'])).not.toContain('2079460958');

    const reply = await responseTo(h, answer.fields.response_url, /Jane Findme/);
    const shown = allText(reply);
    expect(reply.response_type).toBe('ephemeral');
    expect(shown).toContain('Jane Findme');
    expect(shown).toContain(`#${conversationId}`);
    expect(shown).toMatch(/window open/);
    expect(shown).toMatch(/\+44 [•*]/);
    expect(shown).not.toMatch(/2079\s?460\s?958|7946 0958/);
    const buttons = (reply.blocks ?? []).filter((block) => block.accessory?.action_id === 'find_send');
    expect(buttons.map((block) => block.accessory?.value)).toEqual([String(conversationId)]);
  });

  test('find by name lists every match; a closed window says so', async () => {
    const h = await start({ mode });
    const open = h.customer({ name: 'Marta Open' });
    const closed = h.customer({ name: 'Marta Closed', wrote: false });
    const answer = await h.command('find Marta');
    const reply = await responseTo(h, answer.fields.response_url, /Marta/);
    const shown = allText(reply);
    expect(shown).toContain(`#${open.conversationId}`);
    expect(shown).toContain(`#${closed.conversationId}`);
    expect(shown).toMatch(/Marta Closed[^\n]*\n?[^\n]*window closed/);
    const nobody = await h.command('find Nobody Atall');
    const none = await responseTo(h, nobody.fields.response_url, /No contact/);
    expect(none.text).toContain('Nobody Atall');
  });

  test('find → Send… opens a modal; submitting it sends once, with a thread in the channel', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer({ name: 'Modal Customer' });
    const answer = await h.command('find Modal Customer');
    await responseTo(h, answer.fields.response_url, /Modal Customer/);
    const click = await h.click({
      actionId: 'find_send',
      value: String(conversationId),
      label: 'Send…',
      isEphemeral: true,
      messageTs: `${Math.floor(Date.now() / 1000)}.000200`,
      triggerId: '13345999999.738474920.modaltrigger0001',
    });
    expect(click.status).toBe(200);
    const opened = await eventually(() => h.slack.views()[0], 'the modal to open');
    expect(opened.method).toBe('views.open');
    expect(opened.triggerId).toBe('13345999999.738474920.modaltrigger0001');
    expect(opened.view['callback_id']).toBe('whatsapp_send_modal');

    const submission = viewSubmission({
      viewId: opened.id,
      callbackId: 'whatsapp_send_modal',
      privateMetadata: String(opened.view['private_metadata']),
      values: { text: { text: { type: 'plain_text_input', value: 'hello from the modal & <friends>' } } },
    });
    const submitted = await h.interactive(submission);
    expect(submitted.status).toBe(200);
    expect(submitted.body?.['response_action']).toBeUndefined();

    const { root, replies } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(root.text).toContain(`<@${USER.id}>`);
    expect(root.text).toContain('Modal Customer');
    expect(replies).toHaveLength(1);
    // Typed into a plain field (unescaped by Slack): the same characters reach Chatwoot (CommonMark may escape `<`).
    const sent = outgoingTo(h, conversationId).map((message) => message.content);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^hello from the modal & \\?<friends>$/);

    // Slack re-sends the same submission (same view id): nothing is sent again.
    await h.interactive(submission);
    const other = h.customer();
    await h.command(`send ${other.conversationId} Later`);
    await threadReaches(h, CHANNEL, other.conversationId, /Sent|Delivered/);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(rootsIn(h, CHANNEL)).toHaveLength(2);
  });

  test('status: contact, inbox, status, window and our last messages with their states', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer({ name: 'Status Customer', phone: '+442079460959' });
    await h.command(`send ${conversationId} First update about order 4411`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    const answer = await h.command(`status #${conversationId}`);
    expect(answer.body?.['response_type']).toBe('ephemeral');
    expect(String(answer.body?.['text'])).toMatch(new RegExp(`Looking up conversation #${conversationId}`));
    const reply = await responseTo(h, answer.fields.response_url, /Conversation #/);
    const shown = reply.text ?? '';
    expect(shown).toContain(`Conversation #${conversationId}`);
    expect(shown).toContain('Status Customer');
    expect(shown).not.toContain('2079460959');
    expect(shown).toContain('WhatsApp Support');
    expect(shown).toMatch(/\*Status:\* open/);
    expect(shown).toMatch(/24-hour window:\* open until/);
    expect(shown).toMatch(/Last messages sent:/);
    expect(shown).toMatch(new RegExp(`by <@${USER.id}>: (sent|delivered|read)\\. “First update about order 4411”`));
  });

  test('status of a conversation whose window is closed, with nothing sent yet', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer({ name: 'Quiet Customer', wrote: false });
    const answer = await h.command(`status ${conversationId}`);
    const reply = await responseTo(h, answer.fields.response_url, /Conversation #/);
    expect(reply.text).toMatch(/24-hour window:\* closed/);
    expect(reply.text).toMatch(/template/);
    expect(reply.text).toMatch(/No messages sent to this customer yet/);
  });

  test('status of a conversation that does not exist says so', async () => {
    const h = await start({ mode });
    const answer = await h.command('status 987654');
    const reply = await responseTo(h, answer.fields.response_url, /987654/);
    expect(reply.text).not.toMatch(/unexpectedly/);
  });
});
