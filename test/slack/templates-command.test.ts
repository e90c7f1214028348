import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS, type SlackResponseUrlPost } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
  appHarnesses,
  eventually,
  META_TEMPLATES,
  outgoingTo,
  rootsIn,
  threadReaches,
} from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const { orderUpdate, orderUpdateSpanish, welcomeNamed, trackImage, hello, pending, rejected } = META_TEMPLATES;

const dir = mkdtempSync(join(tmpdir(), 'templates-command-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TEAM_FILE = join(dir, 'templates.yml');
writeFileSync(
  TEAM_FILE,
  [
    'templates:',
    '  - name: order-shipped',
    '    description: The order left the warehouse',
    '    text: |',
    '      Hi {{name}}, your order *{{order}}* has shipped :package:',
    '  - name: follow-up',
    '    text: Is everything working as expected now?',
    '',
  ].join('\n'),
);

async function startWithTemplates(env: Record<string, string> = {}): Promise<AppHarness> {
  return start({
    env: { TEMPLATES_FILE: TEAM_FILE, ...env },
    inbox: { messageTemplates: [orderUpdate, orderUpdateSpanish, welcomeNamed, trackImage, hello, pending, rejected] },
  });
}

function textOf(post: SlackResponseUrlPost | undefined): string {
  const body = post?.body;
  return typeof body === 'object' && body !== null && 'text' in body ? String(body.text) : '';
}

/** The response_url post (to the command's url) whose text matches. */
function responseTo(h: AppHarness, responseUrl: string, pattern: RegExp): Promise<string> {
  const id = responseUrl.slice(responseUrl.indexOf('/respond/') + '/respond/'.length);
  return eventually(
    () =>
      h.slack
        .responses(id)
        .map(textOf)
        .find((text) => pattern.test(text)),
    `a response_url post matching ${String(pattern)}`,
  );
}

function ackText(answer: { body: Record<string, unknown> | undefined }): string {
  return String(answer.body?.['text'] ?? '');
}

const SHIPPED = {
  name: 'order_update',
  language: 'en_US',
  category: 'UTILITY',
};

describe('/whatsapp templates', () => {
  test('lists the approved templates (name, language, category, the values each needs) and the team snippets', async () => {
    const h = await startWithTemplates();
    const answer = await h.command('templates');
    expect(answer.body?.['response_type']).toBe('ephemeral');
    const list = await responseTo(h, answer.fields.response_url, /Approved WhatsApp templates/);
    const line = (name: string, language: string) =>
      list.split('\n').find((row) => row.includes(`${name} (${language}`)) ?? '';
    expect(line('order_update', 'en_US')).toContain('UTILITY');
    expect(line('order_update', 'en_US')).toMatch(/needs `1` `2`/);
    expect(line('order_update', 'es')).toMatch(/needs `1` `2`/);
    expect(line('welcome_named', 'en')).toMatch(/MARKETING.*needs `customer_name` `discount_code` `button_0`/);
    expect(line('track_parcel', 'en_GB')).toMatch(/needs `header_media_url` `1` `button_1`/);
    expect(line('hello_again', 'en')).not.toMatch(/needs/);
    expect(list).not.toContain('pending_one');
    expect(list).not.toContain('rejected_one');
    expect(list).toMatch(/Team snippets/);
    expect(list).toMatch(/\*order-shipped\*: The order left the warehouse — needs `name` `order`/);
    expect(list).toMatch(/\*follow-up\*/);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
  });

  test('refresh re-reads the inbox (past the cache) and asks Chatwoot to sync with an administrator token', async () => {
    const h = await startWithTemplates();
    const first = await h.command('templates');
    await responseTo(h, first.fields.response_url, /order_update/);
    h.chatwoot.setTemplates(h.inbox.id, [orderUpdate, { ...hello, name: 'brand_new' }]);
    const cached = await h.command('templates');
    expect(await responseTo(h, cached.fields.response_url, /Approved/)).not.toContain('brand_new');

    const refreshed = await h.command('templates refresh');
    expect(ackText(refreshed)).toMatch(/again/);
    const list = await responseTo(h, refreshed.fields.response_url, /brand_new/);
    expect(list).toMatch(/sync/i);
    expect(h.chatwoot.templateSyncs()).toEqual([h.inbox.id]);
    expect(list).not.toContain('welcome_named');
  });
});

describe('/whatsapp template <conversation> <name> [lang=] [k=v …]', () => {
  test('sends the approved template with template_params and the rendered text; quoting keeps spaces', async () => {
    const h = await startWithTemplates();
    const { conversationId } = h.customer({ name: 'Template Slash', wrote: false });
    const answer = await h.command(`template ${conversationId} order_update lang=en_US 1=Jane 2="order 4411"`);
    expect(answer.body?.['response_type']).toBe('ephemeral');
    expect(ackText(answer)).toMatch(new RegExp(`order_update.*conversation #${conversationId}.*queued`));
    const { replies, root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toMatch(/free text/i);
    expect(root.text).toContain('Hi Jane, your order order 4411 has shipped.');
    const sent = outgoingTo(h, conversationId);
    expect(sent.map((message) => message.content)).toEqual(['Hi Jane, your order order 4411 has shipped.']);
    expect(sent[0]?.additionalAttributes['template_params']).toEqual({
      ...SHIPPED,
      processed_params: { body: { '1': 'Jane', '2': 'order 4411' } },
    });
  });

  test('Slack’s escaping and curly quotes are undone in values', async () => {
    const h = await startWithTemplates();
    const { conversationId } = h.customer({ name: 'Escaped Values', wrote: false });
    await h.command(`template ${conversationId} order_update lang=en_US 1=“Tom &amp; Jerry” 2=4411`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(outgoingTo(h, conversationId)[0]?.additionalAttributes['template_params']).toEqual({
      ...SHIPPED,
      processed_params: { body: { '1': 'Tom & Jerry', '2': '4411' } },
    });
  });

  test('a missing value answers at once with what is needed; nothing is sent', async () => {
    const h = await startWithTemplates();
    const { conversationId } = h.customer({ name: 'Missing Value', wrote: false });
    const answer = await h.command(`template ${conversationId} order_update lang=en_US 1=Jane`);
    const text = ackText(answer);
    expect(text).toMatch(/needs/);
    expect(text).toContain('`2=…`');
    expect(text).not.toContain('`1=…`');
    expect(text).toMatch(/Nothing was sent/);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
    expect(outgoingTo(h, conversationId)).toEqual([]);
  });

  test('an unknown name answers with the pointer to the list', async () => {
    const h = await startWithTemplates();
    const { conversationId } = h.customer({ name: 'Unknown Name' });
    const answer = await h.command(`template ${conversationId} order_updaet 1=Jane 2=4411`);
    expect(ackText(answer)).toContain('order_updaet');
    expect(ackText(answer)).toContain('/whatsapp templates');
    expect(ackText(answer)).toMatch(/Nothing was sent/);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
  });

  test('lang= chooses among the languages of a name (without it, the languages are listed)', async () => {
    const h = await startWithTemplates();
    const { conversationId } = h.customer({ name: 'Spanish Speaker', wrote: false });
    const ambiguous = await h.command(`template ${conversationId} order_update 1=Juana 2=4411`);
    expect(ackText(ambiguous)).toMatch(/`en_US`/);
    expect(ackText(ambiguous)).toMatch(/`es`/);
    expect(ackText(ambiguous)).toMatch(/lang=/);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);

    await h.command(`template ${conversationId} order_update lang=ES 1=Juana 2=4411`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    const sent = outgoingTo(h, conversationId);
    expect(sent.map((message) => message.content)).toEqual(['Hola Juana, tu pedido 4411 ha sido enviado.']);
    expect(sent[0]?.additionalAttributes['template_params']).toEqual({
      name: 'order_update',
      language: 'es',
      category: 'UTILITY',
      processed_params: { body: { '1': 'Juana', '2': '4411' } },
    });
  });

  test('a team snippet by name is sent as free text, filled in', async () => {
    const h = await startWithTemplates();
    const { conversationId } = h.customer({ name: 'Snippet Slash' });
    await h.command(`template ${conversationId} order-shipped name=Jane order=4411`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    const sent = outgoingTo(h, conversationId);
    expect(sent.map((message) => message.content)).toEqual(['Hi Jane, your order **4411** has shipped 📦']);
    expect(sent[0]?.additionalAttributes['template_params']).toBeUndefined();
  });

  test('to a number that never wrote: the contact and conversation are created, the template is its first message', async () => {
    const h = await startWithTemplates();
    const answer = await h.command('template +14155550188 order_update lang=en_US 1=A 2=B');
    expect(ackText(answer)).toMatch(/queued/);
    const conversation = await eventually(() => h.chatwoot.conversations()[0], 'a conversation');
    await threadReaches(h, CHANNEL, conversation.id, /Sent|Delivered/);
    expect(h.chatwoot.conversations()).toHaveLength(1);
    expect(conversation.inboxId).toBe(h.inbox.id);
    expect(h.chatwoot.contact(conversation.contactId)?.phoneNumber).toBe('+14155550188');
    const sent = outgoingTo(h, conversation.id);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.additionalAttributes['template_params']).toEqual({
      ...SHIPPED,
      processed_params: { body: { '1': 'A', '2': 'B' } },
    });
  });

  test('two template commands at once to the same new number make ONE conversation holding both', async () => {
    const h = await startWithTemplates();
    // Every Chatwoot answer takes a little while, so both sends look the number up at the same time.
    h.chatwoot.setLatency(25);
    await Promise.all([
      h.command('template +14155550177 order_update lang=en_US 1=First 2=1'),
      h.command('template +1 415 555 0177 order_update lang=en_US 1=Second 2=2'),
    ]);
    const both = await eventually(() => {
      const messages = h.chatwoot.conversations().flatMap((conversation) => outgoingTo(h, conversation.id));
      return messages.length >= 2 ? messages : undefined;
    }, 'both templates in Chatwoot');
    expect(both).toHaveLength(2);
    expect(h.chatwoot.conversations()).toHaveLength(1);
    const created = h.chatwoot.requests.filter(
      (request) => request.method === 'POST' && /\/(contacts|conversations)$/.test(request.path),
    );
    expect(created.map((request) => request.path.split('/').at(-1))).toEqual(['contacts', 'conversations']);
    const [conversation] = h.chatwoot.conversations();
    expect(
      outgoingTo(h, conversation?.id ?? 0)
        .map((message) => message.content)
        .sort(),
    ).toEqual(['Hi First, your order 1 has shipped.', 'Hi Second, your order 2 has shipped.']);
  });

  test('free text to a new number is refused after the ack: Failed in the thread, pointing to the templates', async () => {
    const h = await startWithTemplates();
    const answer = await h.command('send +14155550166 Hello, are you there?');
    expect(ackText(answer)).toMatch(/queued/);
    const reply = await eventually(() => {
      const root = rootsIn(h, CHANNEL)[0];
      if (root === undefined) return undefined;
      return h.slack.thread(CHANNEL, root.ts).find((message) => /Failed/.test(message.text));
    }, 'the thread to say Failed');
    expect(reply.text).toMatch(/template/);
    expect(reply.text).toContain('/whatsapp template');
    expect(reply.text).not.toContain('4155550166');
    expect(h.chatwoot.conversations()).toEqual([]);
  });
});
