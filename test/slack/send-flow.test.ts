import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import { type AppHarness, appHarnesses, eventually } from '../helpers/slack-app-harness.ts';

const CHANNEL = SLACK_DEFAULTS.channel.id;

const start = appHarnesses();

/** The root message of the latest thread in the channel, and its replies. */
function threadIn(h: AppHarness, channel: string) {
  const roots = h.slack.messages(channel).filter((message) => message.threadTs === undefined);
  const root = roots.at(-1);
  return { root, replies: root === undefined ? [] : h.slack.thread(channel, root.ts) };
}

describe.each(['http', 'socket'] as const)('/whatsapp send (%s mode)', (mode) => {
  test('acknowledges at once, sends once, and the thread shows who sent what to whom, then Sent', async () => {
    const h = await start({ mode });
    expect(h.stderr()).toBe('');
    const { conversationId } = h.customer({ name: 'Jane Doe', phone: '+442079460958' });
    const answer = await h.command(`send ${conversationId} Your order *4411* has shipped &amp; is on its way`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(answer.body?.['text'])).toMatch(new RegExp(`conversation #${conversationId} queued`));

    const { replies } = await eventually(() => {
      const thread = threadIn(h, CHANNEL);
      return /Sent|Delivered/.test(thread.replies[0]?.text ?? '') ? thread : undefined;
    }, 'the status reply to say Sent');
    const { root } = threadIn(h, CHANNEL);
    expect(root?.text).toContain(`<@${SLACK_DEFAULTS.user.id}>`);
    expect(root?.text).toContain('Jane Doe');
    expect(root?.text).toContain(`conversation #${conversationId}`);
    expect(root?.text).toContain('/conversations/');
    expect(root?.text).toContain('> Your order *4411* has shipped &amp; is on its way');
    expect(root?.text).not.toContain('2079460958');
    expect(replies).toHaveLength(1);
    // One reply, edited in place as the send moved on (accepted → sent → delivered).
    expect(replies[0]?.text).toMatch(/(Sent: WhatsApp took message \d+|Delivered) (for|to) Jane Doe/);
    const first = h.slack.calls('chat.postMessage').find((call) => call.args['thread_ts'] !== undefined);
    const shown = [String(first?.args['text']), ...(replies[0]?.edits.map((edit) => edit.text) ?? [])];
    expect(shown.some((text) => /message \d+/.test(text))).toBe(true);

    const sent = h.chatwoot.messages(conversationId).filter((message) => message.messageType === 'outgoing');
    expect(sent.map((message) => message.content)).toEqual(['Your order **4411** has shipped & is on its way']);
    expect(h.slack.rateLimited()).toBe(0);
  });

  test('a usage error answers at once with the correct usage, and nothing is sent or posted', async () => {
    const h = await start({ mode });
    const answer = await h.command('send 57');
    expect(answer.body?.['response_type']).toBe('ephemeral');
    expect(String(answer.body?.['text'])).toMatch(/Add the message to send after “57”/);
    expect(String(answer.body?.['text'])).toContain('/whatsapp send <conversation> <text>');
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
  });

  test('a repeated request (same trigger_id) never sends twice', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer();
    const first = await h.command(`send ${conversationId} Only once`);
    const again = await h.command(`send ${conversationId} Only once`, { trigger_id: first.fields.trigger_id });
    expect(String(again.body?.['text'])).toMatch(/already queued/);
    await eventually(
      () => (/Sent|Delivered/.test(threadIn(h, CHANNEL).replies[0]?.text ?? '') ? true : undefined),
      'Sent',
    );
    const sent = h.chatwoot.messages(conversationId).filter((message) => message.messageType === 'outgoing');
    expect(sent).toHaveLength(1);
    expect(h.slack.messages(CHANNEL).filter((message) => message.threadTs === undefined)).toHaveLength(1);
  });
});
