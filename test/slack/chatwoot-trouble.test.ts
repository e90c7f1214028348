import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  appHarnesses,
  eventually,
  outgoingTo,
  responseTexts,
  rootsIn,
  threadFor,
  threadReaches,
} from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;

describe.each(['http', 'socket'] as const)('Chatwoot slow or down (%s mode)', (mode) => {
  test('send and note are acknowledged while Chatwoot holds every request', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer();
    // Every request from now on hangs until the fake closes: nothing about Chatwoot may hold the ack up.
    h.chatwoot.fault({ type: 'stall', times: 1_000 });
    const send = await h.command(`send ${conversationId} Whenever Chatwoot is back`);
    expect(send.status).toBe(200);
    expect(String(send.body?.['text'])).toMatch(/queued/);
    const note = await h.command(`note ${conversationId} Internal`);
    expect(String(note.body?.['text'])).toMatch(/queued/);
    const find = await h.command('find Customer');
    expect(String(find.body?.['text'])).toMatch(/Searching/);
    const status = await h.command(`status ${conversationId}`);
    expect(String(status.body?.['text'])).toMatch(/Looking up/);
    // The thread is posted anyway (Slack does not wait for Chatwoot either).
    await eventually(() => (rootsIn(h, CHANNEL).length === 2 ? true : undefined), 'both roots');
  });

  test('Chatwoot down: the thread says the send is waiting, then the same reply says Sent once it is back', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer({ name: 'Patient Customer' });
    await h.chatwoot.down();
    await h.command(`send ${conversationId} Sent after the outage`);
    const waiting = await eventually(() => {
      const { root, replies } = threadFor(h, CHANNEL, conversationId);
      const reply = replies[0];
      return root !== undefined && reply !== undefined && /Waiting|Retrying/.test(reply.text) ? reply : undefined;
    }, 'the status reply to say the send is waiting');
    await h.chatwoot.up();
    const { replies } = await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.ts).toBe(waiting.ts);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(h.slack.rateLimited()).toBe(0);
  });

  test('find and status while Chatwoot is down answer through response_url in plain words', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer();
    await h.chatwoot.down();
    await h.command('find Customer');
    await h.command(`status ${conversationId}`);
    const answers = await eventually(() => {
      const texts = responseTexts(h);
      return texts.length >= 2 ? texts : undefined;
    }, 'two answers');
    for (const text of answers) {
      expect(text).not.toMatch(/unexpectedly/);
      expect(text).toMatch(/Chatwoot/);
    }
  });
});
