import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS } from '../fakes/fake-slack.ts';
import { type AppHarness, appHarnesses, eventually, threadReaches } from '../helpers/slack-app-harness.ts';

/** Starts the app against fresh fakes; each test's apps stop after it. */
const start = appHarnesses();

const CHANNEL = SLACK_DEFAULTS.channel.id;
const SECRET_TEXT = 'Parcel locker code 771-Zebra-Quartz';

function auditLines(h: AppHarness): Array<Record<string, unknown>> {
  return h.logs().filter((line) => line['audit'] === true);
}

describe.each(['http', 'socket'] as const)('audit records (%s mode)', (mode) => {
  test('one audit line per send: who, where, conversation, message ids, outcome, length — never the text', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer();
    await h.command(`send ${conversationId} ${SECRET_TEXT}`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    const [line] = await eventually(() => {
      const lines = auditLines(h);
      return lines.length > 0 ? lines : undefined;
    }, 'the audit line');
    // Let the send move on (delivered, read) and make sure that adds no second audit record.
    await h.chatwoot.whenDeliveryIdle();
    const other = h.customer();
    await h.command(`send ${other.conversationId} Another one`);
    await eventually(() => (auditLines(h).length >= 2 ? true : undefined), 'the second audit line');

    const lines = auditLines(h).filter((entry) => entry['conversationId'] === conversationId);
    expect(lines).toHaveLength(1);
    expect(line).toMatchObject({
      audit: true,
      slackUser: SLACK_DEFAULTS.user.id,
      slackChannel: CHANNEL,
      conversationId,
      textLength: SECRET_TEXT.length,
    });
    // Audited once Chatwoot holds the message (accepted); WhatsApp's later states add no line.
    expect(line?.['outcome']).toMatch(/^(accepted|sent|delivered|read)$/);
    const messageIds = line?.['messageIds'];
    expect(Array.isArray(messageIds)).toBe(true);
    expect(messageIds).toEqual([expect.any(Number)]);
    expect(JSON.stringify(line)).not.toContain('Zebra');
  });

  test('no log line carries the message text, the bot token, the app token or the signing secret', async () => {
    const h = await start({ mode });
    const { conversationId } = h.customer();
    await h.command(`send ${conversationId} ${SECRET_TEXT}`);
    await threadReaches(h, CHANNEL, conversationId, /Sent|Delivered/);
    await eventually(() => auditLines(h)[0], 'the audit line');
    const everything = h.stdout() + h.stderr();
    expect(everything).not.toContain('Zebra-Quartz');
    expect(everything).not.toContain(SLACK_DEFAULTS.botToken);
    expect(everything).not.toContain(SLACK_DEFAULTS.appToken);
    expect(everything).not.toContain(SLACK_DEFAULTS.signingSecret);
    expect(everything).not.toContain(h.chatwoot.user.token);
  });
});

describe('audit of failures and notes', () => {
  test('a failed send is audited as failed with its reason code; a note as note_added', async () => {
    const h = await start({});
    const closed = h.customer({ wrote: false });
    await h.command(`send ${closed.conversationId} Too late`);
    await threadReaches(h, CHANNEL, closed.conversationId, /Failed/);
    const noted = h.customer();
    await h.command(`note ${noted.conversationId} Internal remark`);
    await threadReaches(h, CHANNEL, noted.conversationId, /Private note added/);
    await eventually(() => (auditLines(h).length >= 2 ? true : undefined), 'two audit lines');
    expect(auditLines(h).find((line) => line['conversationId'] === closed.conversationId)).toMatchObject({
      outcome: 'failed',
      failure: 'window_closed',
      textLength: 'Too late'.length,
    });
    expect(auditLines(h).find((line) => line['conversationId'] === noted.conversationId)).toMatchObject({
      outcome: 'note_added',
      textLength: 'Internal remark'.length,
    });
    expect(auditLines(h)).toHaveLength(2);
  });
});
