import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  type AppHarness,
  appHarnesses,
  blockSuggestion,
  changeForm,
  formBlock,
  formState,
  formText,
  META_TEMPLATES,
  openSendForm,
  optionValues,
  tpl,
  variableBlockIds,
} from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const dir = mkdtempSync(join(tmpdir(), 'modal-form-'));
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

const { orderUpdate, orderUpdateSpanish, welcomeNamed, trackImage, hello, pending, rejected } = META_TEMPLATES;
const ALL = [orderUpdate, orderUpdateSpanish, welcomeNamed, trackImage, hello, pending, rejected];

interface Options {
  readonly label: string;
  readonly value: string;
}

function optionsOf(body: Record<string, unknown> | undefined): Options[] {
  const options = body?.['options'];
  if (!Array.isArray(options)) return [];
  return (options as Array<{ text?: { text?: string }; value?: string }>).map((option) => ({
    label: option.text?.text ?? '',
    value: option.value ?? '',
  }));
}

async function suggest(h: AppHarness, viewId: string, typed: string): Promise<Options[]> {
  const view = h.slack.views().find((record) => record.id === viewId);
  if (view === undefined) throw new Error('no view');
  const answer = await h.interactive(blockSuggestion({ view, value: typed }));
  expect(answer.status).toBe(200);
  return optionsOf(answer.body);
}

describe('the global shortcut opens the form at once, then loads the templates into it', () => {
  test('views.open first (with the trigger), then views.update of the same view with the kinds the templates allow', async () => {
    const h = await start({ env: { TEMPLATES_FILE: TEAM_FILE }, inbox: { messageTemplates: ALL } });
    const { opened, loaded, ack } = await openSendForm(h, { triggerId: '13345000001.738474920.shortcut00000001' });
    expect(ack).toBeUndefined();
    const records = h.slack.views();
    expect(records[0]?.method).toBe('views.open');
    expect(records[0]?.triggerId).toBe('13345000001.738474920.shortcut00000001');
    expect(opened.view['callback_id']).toBe('whatsapp_send_modal');
    expect(loaded.method).toBe('views.update');
    expect(loaded.id).toBe(opened.id);
    expect(loaded.view['callback_id']).toBe('whatsapp_send_modal');
    expect(String(loaded.view['private_metadata']).length).toBeLessThanOrEqual(3000);

    // Free text, a team snippet (TEMPLATES_FILE has some), an approved template (the inbox has some).
    expect(optionValues(loaded, 'kind')).toEqual(['text', 'team', 'whatsapp']);
    expect(formBlock(loaded, 'conversation')?.element?.type).toBe('external_select');
    expect(formBlock(loaded, 'channel')?.element?.type).toBe('conversations_select');
    expect(formBlock(loaded, 'text')?.element?.type).toBe('plain_text_input');

    // Choosing "an approved template" lists the approved ones only (pending and rejected are not offered).
    const whatsapp = await changeForm(h, {
      viewId: opened.id,
      actionId: 'kind',
      selected: 'whatsapp',
      values: formState({ kind: 'whatsapp' }),
    });
    expect(optionValues(whatsapp, 'wa_template')).toEqual(
      expect.arrayContaining([
        tpl('order_update', 'en_US'),
        tpl('order_update', 'es'),
        tpl('welcome_named', 'en'),
        tpl('track_parcel', 'en_GB'),
      ]),
    );
    expect(optionValues(whatsapp, 'wa_template')).toContain(tpl('hello_again', 'en'));
    expect(optionValues(whatsapp, 'wa_template')).not.toContain(tpl('pending_one', 'en'));
    expect(optionValues(whatsapp, 'wa_template')).not.toContain(tpl('rejected_one', 'en'));
    expect(formBlock(whatsapp, 'text')).toBeUndefined();

    // Choosing "a team snippet" lists the file's snippets.
    const team = await changeForm(h, {
      viewId: opened.id,
      actionId: 'kind',
      selected: 'team',
      values: formState({ kind: 'team' }),
    });
    expect(optionValues(team, 'team_template')).toEqual(['order-shipped', 'follow-up']);
    expect(formBlock(team, 'wa_template')).toBeUndefined();
  });

  test('with no team file and no approved template, only free text is offered', async () => {
    const h = await start({ inbox: { messageTemplates: [pending, rejected] } });
    const { loaded } = await openSendForm(h);
    expect(optionValues(loaded, 'kind')).toEqual(['text']);
  });

  test('SLACK_DEFAULT_CHANNEL preselects the result channel', async () => {
    const h = await start({ env: { SLACK_DEFAULT_CHANNEL: 'C0DEFAULT1' } });
    h.slack.addChannel({ id: 'C0DEFAULT1', name: 'whatsapp-results' });
    const { loaded } = await openSendForm(h);
    expect(formBlock(loaded, 'channel')?.element?.initial_conversation).toBe('C0DEFAULT1');
  });
});

describe('the conversation search answers within the ack (block_suggestion)', () => {
  test('a name lists her WhatsApp conversations with a masked number and the window state', async () => {
    const h = await start();
    const open = h.customer({ name: 'Jane Suggest', phone: '+442079460958' });
    const { opened } = await openSendForm(h);
    const closedContact = h.chatwoot.addContact({ name: 'Jane Quiet', phoneNumber: '+442079460959' });
    const closed = h.chatwoot.addConversation({ inboxId: h.inbox.id, contactId: closedContact.id });

    const options = await suggest(h, opened.id, 'Jane');
    const byValue = new Map(options.map((option) => [option.value, option.label]));
    const openLabel = byValue.get(`c:${open.conversationId}`);
    const closedLabel = byValue.get(`c:${closed.id}`);
    expect(openLabel).toContain('Jane Suggest');
    expect(openLabel).toContain(`#${open.conversationId}`);
    expect(openLabel).toMatch(/window open/);
    expect(openLabel).toMatch(/\+44 \S*/);
    expect(openLabel).not.toMatch(/2079\s?460\s?958/);
    expect(closedLabel).toContain('Jane Quiet');
    expect(closedLabel).toMatch(/template only|window closed/);
    for (const option of options) {
      expect(option.label.length).toBeLessThanOrEqual(75);
      expect(option.value.length).toBeLessThanOrEqual(150);
    }
  });

  test('a conversation id (#57 or 57) gives that conversation', async () => {
    const h = await start();
    const { conversationId } = h.customer({ name: 'Id Lookup' });
    const { opened } = await openSendForm(h);
    const withHash = await suggest(h, opened.id, `#${conversationId}`);
    expect(withHash.map((option) => option.value)).toEqual([`c:${conversationId}`]);
    expect(withHash[0]?.label).toContain('Id Lookup');
    const bare = await suggest(h, opened.id, String(conversationId));
    expect(bare[0]?.value).toBe(`c:${conversationId}`);
  });

  test('a number nobody has a conversation with offers a new conversation, template only', async () => {
    const h = await start();
    const { opened } = await openSendForm(h);
    const options = await suggest(h, opened.id, '+1 415 555 0188');
    expect(options).toEqual([
      { label: expect.stringMatching(/^New conversation .*template only/), value: 'p:+14155550188' },
    ]);
    // A known number is offered as its conversation, not as a new one.
    const known = h.customer({ name: 'Known Number', phone: '+14155550199' });
    const again = await suggest(h, opened.id, '+14155550199');
    expect(again.map((option) => option.value)).toEqual([`c:${known.conversationId}`]);
  });

  test('never more than 100 options', async () => {
    const h = await start();
    for (let contact = 0; contact < 11; contact += 1) {
      const person = h.chatwoot.addContact({
        name: `Bulk Person ${contact}`,
        phoneNumber: `+1415555${2000 + contact}`,
      });
      for (let conversation = 0; conversation < 11; conversation += 1) {
        h.chatwoot.addConversation({ inboxId: h.inbox.id, contactId: person.id });
      }
    }
    const { opened } = await openSendForm(h);
    const options = await suggest(h, opened.id, 'Bulk Person');
    expect(options).toHaveLength(100);
    expect(new Set(options.map((option) => option.value)).size).toBe(100);
  });
});

describe('the form shows exactly the fields the chosen template needs (block_actions → views.update)', () => {
  test('kind, then a template: its variable fields; another template: its own; Preview renders the text', async () => {
    const h = await start({ inbox: { messageTemplates: ALL } });
    const { conversationId } = h.customer({ name: 'Field Test' });
    const { opened } = await openSendForm(h);
    const conversation = `c:${conversationId}`;

    await changeForm(h, {
      viewId: opened.id,
      actionId: 'kind',
      selected: 'whatsapp',
      values: formState({ conversation, kind: 'whatsapp' }),
    });
    const order = await changeForm(h, {
      viewId: opened.id,
      actionId: 'wa_template',
      selected: tpl('order_update', 'en_US'),
      values: formState({ conversation, kind: 'whatsapp', whatsapp: tpl('order_update', 'en_US') }),
    });
    expect(variableBlockIds(order)).toEqual(['var:1', 'var:2']);
    expect(formBlock(order, 'wa_template')?.element?.initial_option?.value).toBe(tpl('order_update', 'en_US'));
    expect(formBlock(order, 'var:1')?.element?.action_id).toBe('var:1');
    expect(formBlock(order, 'var:1')?.element?.placeholder?.text).toContain('Jane');

    const named = await changeForm(h, {
      viewId: opened.id,
      actionId: 'wa_template',
      selected: tpl('welcome_named', 'en'),
      values: formState({
        conversation,
        kind: 'whatsapp',
        whatsapp: tpl('welcome_named', 'en'),
        vars: { '1': 'Jane' },
      }),
    });
    expect(variableBlockIds(named)).toEqual(['var:customer_name', 'var:discount_code', 'var:button_0']);

    const media = await changeForm(h, {
      viewId: opened.id,
      actionId: 'wa_template',
      selected: tpl('track_parcel', 'en_GB'),
      values: formState({ conversation, kind: 'whatsapp', whatsapp: tpl('track_parcel', 'en_GB') }),
    });
    expect(variableBlockIds(media)).toEqual(['var:header_media_url', 'var:1', 'var:button_1']);

    const none = await changeForm(h, {
      viewId: opened.id,
      actionId: 'wa_template',
      selected: tpl('hello_again', 'en'),
      values: formState({ conversation, kind: 'whatsapp', whatsapp: tpl('hello_again', 'en') }),
    });
    expect(variableBlockIds(none)).toEqual([]);

    // Back to order_update, filled in: Preview shows the rendered text.
    await changeForm(h, {
      viewId: opened.id,
      actionId: 'wa_template',
      selected: tpl('order_update', 'en_US'),
      values: formState({ conversation, kind: 'whatsapp', whatsapp: tpl('order_update', 'en_US') }),
    });
    const preview = await changeForm(h, {
      viewId: opened.id,
      actionId: 'preview',
      values: formState({
        conversation,
        kind: 'whatsapp',
        whatsapp: tpl('order_update', 'en_US'),
        vars: { '1': 'Jane', '2': '4411' },
      }),
    });
    expect(formBlock(preview, 'preview')?.text?.text).toContain('Hi Jane, your order 4411 has shipped.');
    expect(variableBlockIds(preview)).toEqual(['var:1', 'var:2']);
    // Nothing was sent by any of this.
    expect(h.chatwoot.messages(conversationId).filter((message) => message.messageType === 'outgoing')).toEqual([]);
  });

  test('a template with a long name (Meta allows 512 characters) can still be chosen: its fields appear', async () => {
    const longName = `seasonal_order_update_${'x'.repeat(150)}`;
    const h = await start({ inbox: { messageTemplates: [{ ...orderUpdate, name: longName }] } });
    const { opened } = await openSendForm(h);
    const listed = await changeForm(h, {
      viewId: opened.id,
      actionId: 'kind',
      selected: 'whatsapp',
      values: formState({ kind: 'whatsapp' }),
    });
    const [value] = optionValues(listed, 'wa_template');
    expect(value?.length).toBeLessThanOrEqual(150);
    const chosen = await changeForm(h, {
      viewId: opened.id,
      actionId: 'wa_template',
      selected: value ?? '',
      values: formState({ kind: 'whatsapp', whatsapp: value ?? '' }),
    });
    expect(variableBlockIds(chosen)).toEqual(['var:1', 'var:2']);
  });

  test('a team snippet shows a field per placeholder; Preview shows it filled', async () => {
    const h = await start({ env: { TEMPLATES_FILE: TEAM_FILE } });
    const { opened } = await openSendForm(h);
    const snippet = await changeForm(h, {
      viewId: opened.id,
      actionId: 'team_template',
      selected: 'order-shipped',
      values: formState({ kind: 'team', team: 'order-shipped' }),
    });
    expect(variableBlockIds(snippet)).toEqual(['var:name', 'var:order']);
    const preview = await changeForm(h, {
      viewId: opened.id,
      actionId: 'preview',
      values: formState({ kind: 'team', team: 'order-shipped', vars: { name: 'Jane', order: '4411' } }),
    });
    const shown = formBlock(preview, 'preview')?.text?.text ?? '';
    expect(shown).toContain('Hi Jane, your order *4411* has shipped');
  });

  test('Preview of free text shows what the customer gets, as text: no live mention, link or broken escaping', async () => {
    const h = await start();
    const { opened } = await openSendForm(h);
    const preview = await changeForm(h, {
      viewId: opened.id,
      actionId: 'preview',
      values: formState({ kind: 'text', text: 'Tom & Jerry <3 <!channel> <https://evil.example|click>' }),
    });
    const shown = formBlock(preview, 'preview')?.text?.text ?? '';
    // The section is mrkdwn: what was typed must be escaped there, as the thread's quote does.
    expect(shown).toContain('Tom &amp; Jerry &lt;3 &lt;!channel&gt; &lt;https://evil.example|click&gt;');
  });

  test('Preview of a team snippet escapes the values typed into it', async () => {
    const h = await start({ env: { TEMPLATES_FILE: TEAM_FILE } });
    const { opened } = await openSendForm(h);
    const preview = await changeForm(h, {
      viewId: opened.id,
      actionId: 'preview',
      values: formState({ kind: 'team', team: 'order-shipped', vars: { name: '<!here>', order: 'A&B' } }),
    });
    const shown = formBlock(preview, 'preview')?.text?.text ?? '';
    expect(shown).not.toContain('<!here>');
    expect(shown).toContain('&lt;!here&gt;');
  });

  test('Preview of a template with a value missing says which, without sending', async () => {
    const h = await start({ inbox: { messageTemplates: ALL } });
    const { opened } = await openSendForm(h);
    const preview = await changeForm(h, {
      viewId: opened.id,
      actionId: 'preview',
      values: formState({ kind: 'whatsapp', whatsapp: tpl('order_update', 'en_US'), vars: { '1': 'Jane' } }),
    });
    expect(formBlock(preview, 'preview')?.text?.text).toMatch(/\{\{2\}\}.*missing/);
  });

  test('Refresh templates asks Chatwoot to sync (administrator token) and picks up a template added meanwhile', async () => {
    const h = await start({ inbox: { messageTemplates: [orderUpdate] } });
    const { opened } = await openSendForm(h);
    const before = await changeForm(h, {
      viewId: opened.id,
      actionId: 'kind',
      selected: 'whatsapp',
      values: formState({ kind: 'whatsapp' }),
    });
    expect(optionValues(before, 'wa_template')).toEqual([tpl('order_update', 'en_US')]);
    expect(h.chatwoot.templateSyncs()).toEqual([]);

    // Meta approved one more; the default cache (10 minutes) would hide it, a refresh must not.
    h.chatwoot.setTemplates(h.inbox.id, [orderUpdate, welcomeNamed]);
    const refreshed = await changeForm(h, {
      viewId: opened.id,
      actionId: 'refresh_templates',
      values: formState({ kind: 'whatsapp' }),
    });
    expect(h.chatwoot.templateSyncs()).toEqual([h.inbox.id]);
    expect(optionValues(refreshed, 'wa_template')).toEqual([tpl('order_update', 'en_US'), tpl('welcome_named', 'en')]);
    expect(formText(refreshed)).toMatch(/sync/i);

    // The next form reads the refreshed list too.
    const next = await openSendForm(h);
    const again = await changeForm(h, {
      viewId: next.opened.id,
      actionId: 'kind',
      selected: 'whatsapp',
      values: formState({ kind: 'whatsapp' }),
    });
    expect(optionValues(again, 'wa_template')).toEqual([tpl('order_update', 'en_US'), tpl('welcome_named', 'en')]);
  });

  test('Refresh templates with an agent token: no sync (Chatwoot would refuse it), only a re-read', async () => {
    const h = await start({
      chatwoot: { user: { role: 'agent' } },
      inbox: { messageTemplates: [orderUpdate], memberIds: [1] },
    });
    const { opened } = await openSendForm(h);
    await changeForm(h, {
      viewId: opened.id,
      actionId: 'kind',
      selected: 'whatsapp',
      values: formState({ kind: 'whatsapp' }),
    });
    h.chatwoot.setTemplates(h.inbox.id, [orderUpdate, hello]);
    const refreshed = await changeForm(h, {
      viewId: opened.id,
      actionId: 'refresh_templates',
      values: formState({ kind: 'whatsapp' }),
    });
    expect(optionValues(refreshed, 'wa_template')).toEqual([tpl('hello_again', 'en'), tpl('order_update', 'en_US')]);
    expect(h.chatwoot.templateSyncs()).toEqual([]);
    expect(h.chatwoot.requests.filter((request) => request.path.endsWith('/sync_templates'))).toEqual([]);
    expect(formText(refreshed)).toMatch(/administrator/);
  });
});
