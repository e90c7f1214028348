import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import {
  appHarnesses,
  blockSuggestion,
  formState,
  formSubmission,
  openSendForm,
  outgoingTo,
  threadReaches,
} from '../helpers/slack-app-harness.ts';

/**
 * Slack waits 3 seconds for the answer to a block_suggestion or a view_submission, whatever Chatwoot does. Each
 * Chatwoot request below answers within the app's own 2 s lookup deadline, but two of them in a row take 3.2 s: the
 * form must still answer in time (one deadline for the whole answer, lookups in parallel). Socket Mode, where the fake
 * Slack gives up on an envelope not acked within 3 s, as Slack does.
 */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const SLOW_MS = 1_600;

describe('the form answers within Slack’s 3 seconds when Chatwoot is slow', () => {
  test('block_suggestion for a conversation id (its lookup, then the contact search)', async () => {
    const h = await start({ mode: 'socket' });
    const { conversationId } = h.customer({ name: 'Slow Lookup' });
    const { loaded } = await openSendForm(h);
    h.chatwoot.fault({
      type: 'stall',
      ms: SLOW_MS,
      match: { method: 'GET', path: new RegExp(`/conversations/${conversationId}$`) },
    });
    h.chatwoot.fault({ type: 'stall', ms: SLOW_MS, match: { method: 'GET', path: /\/contacts\/search$/ } });
    const answer = await h.interactive(blockSuggestion({ view: loaded, value: String(conversationId) }));
    const options = (answer.body?.['options'] ?? []) as Array<{ value?: string }>;
    expect(options.map((option) => option.value)).toContain(`c:${conversationId}`);
  });

  test('view_submission of free text (the window check reads the conversation, then its messages)', async () => {
    const h = await start({ mode: 'socket' });
    const { conversationId } = h.customer({ name: 'Slow Window' });
    // The customer wrote a minute ago, an agent answered since: the window needs the message list.
    h.chatwoot.addOutgoingMessage(conversationId, { content: 'We are looking into it', at: Date.now() - 30_000 });
    const { loaded } = await openSendForm(h);
    h.chatwoot.fault({
      type: 'stall',
      ms: SLOW_MS,
      match: { method: 'GET', path: new RegExp(`/conversations/${conversationId}$`) },
    });
    h.chatwoot.fault({
      type: 'stall',
      ms: SLOW_MS,
      match: { method: 'GET', path: new RegExp(`/conversations/${conversationId}/messages$`) },
    });
    const answer = await h.interactive(
      formSubmission({
        view: loaded,
        values: formState({ conversation: `c:${conversationId}`, kind: 'text', text: 'Found it!', channel: CHANNEL }),
      }),
    );
    expect(answer.body?.['response_action']).toBeUndefined();
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    expect(outgoingTo(h, conversationId).map((message) => message.content)).toContain('Found it!');
  });
});
