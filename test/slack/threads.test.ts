import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  appHarnesses,
  eventually,
  outgoingTo,
  responseTexts,
  rootsIn,
  threadReaches,
} from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const USER = SLACK_DEFAULTS.user.id;
/** Every scope but chat:write.public: a public channel the bot is not in answers not_in_channel. */
const WITHOUT_PUBLIC = ['commands', 'chat:write', 'users:read'];

describe('the bot cannot post where the command was used: the send still happens, the thread moves to the DM', () => {
  test('a public channel the bot is not in (not_in_channel)', async () => {
    const h = await start({ slack: { scopes: WITHOUT_PUBLIC } });
    h.slack.addChannel({ id: 'C0OUTSIDE1', name: 'sales', member: false });
    const { conversationId } = h.customer({ name: 'Ada Lovelace' });
    const answer = await h.command(`send ${conversationId} Your parcel is ready`, {
      channel_id: 'C0OUTSIDE1',
      channel_name: 'sales',
    });
    expect(answer.status).toBe(200);
    expect(answer.body?.['response_type']).toBe('ephemeral');

    const dm = h.slack.dmChannelId(USER);
    const { root, replies } = await threadReaches(h, dm, conversationId, /Sent|Delivered/);
    expect(root.text).toContain('Ada Lovelace');
    expect(replies).toHaveLength(1);
    expect(outgoingTo(h, conversationId).map((message) => message.content)).toEqual(['Your parcel is ready']);
    expect(h.slack.messages('C0OUTSIDE1')).toEqual([]);

    const told = await eventually(
      () => responseTexts(h).find((text) => text.includes('DM')),
      'the response_url message saying where the thread went',
    );
    expect(told).toContain('not_in_channel');
    expect(told).toMatch(/\/invite @/);
    expect(told).toContain('<#C0OUTSIDE1>');
    // Only one root, in the DM.
    expect(rootsIn(h, dm)).toHaveLength(1);
  });

  test('a private channel the bot is not in (channel_not_found)', async () => {
    const h = await start({});
    h.slack.addChannel({ id: 'G0PRIVATE1', name: 'vip', isPrivate: true, member: false });
    const { conversationId } = h.customer({ name: 'Grace Hopper' });
    await h.command(`send ${conversationId} Your refund went out`, { channel_id: 'G0PRIVATE1', channel_name: 'vip' });

    const dm = h.slack.dmChannelId(USER);
    const { root, replies } = await threadReaches(h, dm, conversationId, /Sent|Delivered/);
    expect(root.text).toContain('Grace Hopper');
    expect(replies).toHaveLength(1);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    const told = await eventually(
      () => responseTexts(h).find((text) => text.includes('DM')),
      'the response_url message saying where the thread went',
    );
    expect(told).toContain('channel_not_found');
    expect(told).toMatch(/\/invite @/);
    expect(h.slack.messages('G0PRIVATE1')).toEqual([]);
  });

  test('a DM between people (a D… channel the app is not part of)', async () => {
    const h = await start({});
    const { conversationId } = h.customer({ name: 'Alan Turing' });
    await h.command(`send ${conversationId} See you tomorrow`, {
      channel_id: 'D0PEOPLE01',
      channel_name: 'directmessage',
    });

    const dm = h.slack.dmChannelId(USER);
    const { root, replies } = await threadReaches(h, dm, conversationId, /Sent|Delivered/);
    expect(root.text).toContain('Alan Turing');
    expect(replies).toHaveLength(1);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    const told = await eventually(
      () => responseTexts(h).find((text) => text.includes('DM')),
      'the response_url message saying where the thread went',
    );
    expect(told).toMatch(/direct messages between people/);
  });

  test('the channel where it was used, when the bot can post there (no DM, no response_url message)', async () => {
    const h = await start({});
    const { conversationId } = h.customer({ name: 'Katherine Johnson' });
    await h.command(`send ${conversationId} All good`);
    await threadReaches(h, SLACK_DEFAULTS.channel.id, conversationId, /Sent|Delivered/);
    expect(h.slack.messages(h.slack.dmChannelId(USER))).toEqual([]);
    expect(responseTexts(h)).toEqual([]);
  });
});

describe('posting results never blocks or loses a send', () => {
  test('Slack answering 503 when the command comes in: the send goes out; the thread follows once Slack is back', async () => {
    const h = await start({});
    const { conversationId } = h.customer({ name: 'Slack Outage' });
    await h.slack.down('unavailable');
    // HTTP mode: Slack's request still reaches the app; only its Web API is failing.
    const answer = await h.command(`send ${conversationId} Sent while Slack is down`);
    expect(String(answer.body?.['text'])).toMatch(/queued/);
    await eventually(() => (outgoingTo(h, conversationId).length === 1 ? true : undefined), 'the message in Chatwoot');
    await h.slack.up();
    const { replies } = await threadReaches(h, SLACK_DEFAULTS.channel.id, conversationId, /Sent|Delivered/);
    expect(replies).toHaveLength(1);
    expect(rootsIn(h, SLACK_DEFAULTS.channel.id)).toHaveLength(1);
  });

  test('a 429 with Retry-After on the thread post is waited out; one root, one reply', async () => {
    const h = await start({});
    const { conversationId } = h.customer({ name: 'Rate Limited' });
    h.slack.fault('chat.postMessage', { retryAfterSeconds: 1 });
    await h.command(`send ${conversationId} Throttled thread`);
    const { replies } = await threadReaches(h, SLACK_DEFAULTS.channel.id, conversationId, /Sent|Delivered/);
    expect(replies).toHaveLength(1);
    expect(rootsIn(h, SLACK_DEFAULTS.channel.id)).toHaveLength(1);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    const posts = h.slack.calls('chat.postMessage');
    const [limited, next] = posts;
    expect(limited?.status).toBe(429);
    // Retry-After respected: the next post came at least a second later.
    expect((next?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
  });
});
