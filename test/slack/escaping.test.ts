import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import { type AppHarness, appHarnesses, eventually, outgoingTo, threadReaches } from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;

async function sentText(h: AppHarness, conversationId: number): Promise<string> {
  const [message] = await eventually(() => {
    const sent = outgoingTo(h, conversationId);
    return sent.length > 0 ? sent : undefined;
  }, 'the message in Chatwoot');
  return message?.content ?? '';
}

describe('Slack sends command text escaped; both forms reach the customer readable', () => {
  test('should_escape true: mentions, channels and links as <…>, & and < as entities', async () => {
    const h = await start({});
    const { conversationId } = h.customer();
    const answer = await h.command(
      `send ${conversationId} Hi <@${SLACK_DEFAULTS.user.id}|jane>, see <#${CHANNEL}|general> and <https://example.com|site> &amp; more &lt;3`,
    );
    expect(String(answer.body?.['text'])).toMatch(/queued/);
    const text = await sentText(h, conversationId);
    expect(text).toMatch(/^Hi @(Jane Doe|jane), see #general and site \(https:\/\/example\.com\) & more \\?<3$/);
    expect(text).not.toContain('&amp;');
    expect(text).not.toContain('&lt;');
    expect(text).not.toContain('<@');
    expect(text).not.toContain('<#');
  });

  test('should_escape false: raw @name, #channel and urls; & and < still as entities', async () => {
    const h = await start({});
    const { conversationId } = h.customer();
    await h.command(`send ${conversationId} Hi @jane, see #general and https://example.com &amp; more &lt;3`);
    const text = await sentText(h, conversationId);
    expect(text).toMatch(/^Hi @jane, see #general and https:\/\/example\.com & more \\?<3$/);
  });

  test('a mention without a label uses the Slack name (users.info)', async () => {
    const h = await start({});
    h.slack.addUser({ id: 'U0MARTA001', name: 'marta', realName: 'Marta Ruiz', displayName: 'Marta R.' });
    const { conversationId } = h.customer();
    await h.command(`send ${conversationId} <@U0MARTA001> will call you`);
    expect(await sentText(h, conversationId)).toBe('@Marta R. will call you');
  });

  test('without the users:read scope a mention falls back to its label, and the send still goes out', async () => {
    const h = await start({ slack: { scopes: ['commands', 'chat:write', 'chat:write.public'] } });
    h.slack.addUser({ id: 'U0MARTA002', name: 'marta', realName: 'Marta Ruiz' });
    const { conversationId } = h.customer();
    const answer = await h.command(`send ${conversationId} <@U0MARTA002|marta> will call you`);
    expect(String(answer.body?.['text'])).toMatch(/queued/);
    expect(await sentText(h, conversationId)).toBe('@marta will call you');
  });

  test('a phone reference wrapped as <tel:…|…> resolves to the customer', async () => {
    const h = await start({});
    const { conversationId } = h.customer({ name: 'Phone Person', phone: '+442079460958' });
    const answer = await h.command('send <tel:+442079460958|+44 20 7946 0958> Hello by phone');
    expect(String(answer.body?.['text'])).toMatch(/queued/);
    expect(String(answer.body?.['text'])).not.toContain('2079460958');
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(root.text).toContain('Phone Person');
    expect(await sentText(h, conversationId)).toBe('Hello by phone');
  });

  test('a plain phone reference (should_escape false) resolves to the same customer', async () => {
    const h = await start({});
    const { conversationId } = h.customer({ name: 'Plain Phone', phone: '+442079460957' });
    await h.command('send +44 20 7946 0957 Hello plainly');
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(await sentText(h, conversationId)).toBe('Hello plainly');
  });

  test('find with a Slack-wrapped email (<mailto:…|…>) finds the contact', async () => {
    const h = await start({});
    const contact = h.chatwoot.addContact({
      name: 'Mail Person',
      email: 'mail.person@example.com',
      phoneNumber: '+442079460951',
    });
    h.chatwoot.addConversation({ inboxId: h.inbox.id, contactId: contact.id });
    const answer = await h.command('find <mailto:mail.person@example.com|mail.person@example.com>');
    const id = answer.fields.response_url.slice(answer.fields.response_url.indexOf('/respond/') + 9);
    const post = await eventually(
      () => h.slack.responses(id).find((entry) => JSON.stringify(entry.body).includes('Mail Person')),
      'the find result',
    );
    expect(JSON.stringify(post.body)).not.toMatch(/No contact/);
  });

  test('the thread quotes the text without pinging the channel: <!here> / <!channel> are not re-posted live', async () => {
    const h = await start({});
    const { conversationId } = h.customer();
    await h.command(`send ${conversationId} <!here> the shop opens at 9 &amp; closes at 5`);
    const { root } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    // Slack slash-command text with @here arrives as <!here>; the bot posting it back would notify the whole channel.
    expect(root.text).not.toMatch(/<!here>|<!channel>|<!everyone>/);
    const blocksText = JSON.stringify(root.blocks ?? []);
    expect(blocksText).not.toMatch(/<!here>|<!channel>|<!everyone>/);
  });
});
