import { describe, expect, test } from 'vitest';
import { SLACK_DEFAULTS, type SlackMessage } from '../fakes/fake-slack.ts';
import {
  type AppHarness,
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
const ALERTS = 'C0ALERTS01';
const USER = SLACK_DEFAULTS.user;
const OTHER = { id: 'U0OTHER001', name: 'bob' };

async function startWithAlerts(slackTuning?: { alertGroupWindowMs: number }): Promise<AppHarness> {
  const h = await start({
    env: { SLACK_ALERT_CHANNEL: ALERTS },
    ...(slackTuning === undefined ? {} : { slackTuning }),
  });
  h.slack.addChannel({ id: ALERTS, name: 'whatsapp-alerts', member: true });
  h.slack.addUser({ id: OTHER.id, name: OTHER.name, realName: 'Bob Smith' });
  return h;
}

function alertLogs(h: AppHarness): Array<Record<string, unknown>> {
  return h.logs().filter((line) => line['msg'] === 'posted a failure alert');
}

interface Block {
  type: string;
  block_id?: string;
  text?: { text?: string };
  accessory?: { action_id?: string; value?: string };
  elements?: Array<{ text?: string }>;
}

function blocksOf(message: SlackMessage | undefined): Block[] {
  return (message?.blocks ?? []) as Block[];
}

function retryButtons(message: SlackMessage | undefined): string[] {
  return blocksOf(message).flatMap((block) =>
    block.accessory?.action_id === 'retry_send' && block.accessory.value !== undefined ? [block.accessory.value] : [],
  );
}

/** Everything the alert shows: its text and every block's text. */
function shownText(message: SlackMessage | undefined): string {
  return [
    message?.text ?? '',
    ...blocksOf(message).flatMap((block) => [
      block.text?.text ?? '',
      ...(block.elements ?? []).map((element) => element.text ?? ''),
    ]),
  ].join('\n');
}

describe('a send that fails: the thread says so in plain words, and one alert with a Retry button', () => {
  test('closed window → Failed in the thread, an alert; Retry (after the customer wrote) reports in the same thread', async () => {
    const h = await startWithAlerts();
    const { conversationId } = h.customer({ name: 'Jane Customer', phone: '+442079460958', wrote: false });
    await h.command(`send ${conversationId} Your order has shipped`);

    const failed = await threadReaches(h, CHANNEL, conversationId, /Failed/);
    expect(failed.replies).toHaveLength(1);
    const statusReply = failed.replies[0];
    expect(statusReply?.text).toMatch(/Failed/);
    expect(statusReply?.text).toMatch(/24-hour window/);
    expect(statusReply?.text).toMatch(/template/);
    expect(outgoingTo(h, conversationId)).toEqual([]);

    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the alert');
    const shown = shownText(alert);
    expect(shown).toContain(`conversation #${conversationId}`);
    expect(shown).toContain('Jane Customer');
    expect(shown).not.toContain('2079460958');
    expect(shown).toContain(`<@${USER.id}>`);
    expect(shown).toMatch(/24-hour window/);
    expect(shown).toMatch(/template/);
    // A link to the thread: the status reply in the channel's thread.
    const link = `archives/${CHANNEL}/p${statusReply?.ts.replace('.', '')}?thread_ts=${failed.root.ts}`;
    expect(shown).toContain(link);
    const [sendId, ...more] = retryButtons(alert);
    expect(more).toEqual([]);
    expect(sendId).toBeTruthy();

    await eventually(() => alertLogs(h)[0], 'the alert to be stored');
    expect(alertLogs(h)).toHaveLength(1);

    // The customer writes: the window is open again; Retry from the alert.
    h.chatwoot.addIncomingMessage(conversationId, { content: 'Hello? Where is my order?' });
    const click = await h.click({
      actionId: 'retry_send',
      value: sendId ?? '',
      label: 'Retry',
      channel: { id: ALERTS, name: 'whatsapp-alerts' },
      message: { ts: alert?.ts ?? '', text: alert?.text ?? '', blocks: alert?.blocks ?? [] },
    });
    expect(click.status).toBe(200);

    const retried = await eventually(() => {
      const { replies } = threadFor(h, CHANNEL, conversationId);
      const second = replies[1];
      return second !== undefined && /Sent|Delivered/.test(second.text) ? replies : undefined;
    }, 'the retry’s status reply in the same thread to reach Sent');
    expect(retried).toHaveLength(2);
    expect(retried[0]?.ts).toBe(statusReply?.ts);
    expect(retried[0]?.text).toMatch(/Failed/);
    expect(retried[1]?.text).toContain(`Retry by <@${USER.id}>:`);
    // Still one root in the channel: the retry reports into the original thread.
    expect(rootsIn(h, CHANNEL)).toHaveLength(1);
    expect(outgoingTo(h, conversationId).map((message) => message.content)).toEqual(['Your order has shipped']);

    // The alert now says who retried, and has no button for it any more.
    const edited = await eventually(() => {
      const now = rootsIn(h, ALERTS)[0];
      return retryButtons(now).length === 0 ? now : undefined;
    }, 'the alert edited to show who retried');
    expect(shownText(edited)).toMatch(new RegExp(`Retried by <@${USER.id}>`));

    // A second click (someone else, on the same button) does not send again and is told who retried.
    await h.click({
      actionId: 'retry_send',
      value: sendId ?? '',
      label: 'Retry',
      user: OTHER,
      channel: { id: ALERTS, name: 'whatsapp-alerts' },
      message: { ts: alert?.ts ?? '', text: alert?.text ?? '', blocks: alert?.blocks ?? [] },
    });
    const told = await eventually(
      () => responseTexts(h).find((text) => text.includes('already retried')),
      'the second clicker to be told who already retried',
    );
    expect(told).toContain(`<@${USER.id}>`);
    expect(h.slack.thread(CHANNEL, failed.root.ts)).toHaveLength(2);
    expect(outgoingTo(h, conversationId)).toHaveLength(1);
    expect(rootsIn(h, ALERTS)).toHaveLength(1);
  });

  test('a retry while the window is still closed opens the form on the approved templates; cancelling gives the claim back', async () => {
    const h = await startWithAlerts();
    const { conversationId } = h.customer({ name: 'Still Silent', wrote: false });
    await h.command(`send ${conversationId} Are you there?`);
    await threadReaches(h, CHANNEL, conversationId, /Failed/);
    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the alert');
    const [sendId] = retryButtons(alert);
    await h.click({
      actionId: 'retry_send',
      value: sendId ?? '',
      channel: { id: ALERTS, name: 'whatsapp-alerts' },
      message: { ts: alert?.ts ?? '', text: alert?.text ?? '' },
      triggerId: 'trigger-retry-1',
    });
    const opened = await eventually(() => h.slack.views()[0], 'the form to open');
    const view = opened.view as {
      callback_id?: string;
      private_metadata?: string;
      blocks?: Array<{ block_id?: string; element?: { initial_option?: { value?: string } } }>;
    };
    expect(view.callback_id).toBe('whatsapp_send_modal');
    const byId = (id: string) => view.blocks?.find((block) => block.block_id === id);
    expect(byId('conversation')?.element?.initial_option?.value).toBe(`c:${conversationId}`);
    expect(byId('kind')?.element?.initial_option?.value).toBe('whatsapp');
    expect(JSON.parse(view.private_metadata ?? '{}')).toMatchObject({ retryOf: { sendId } });
    expect(outgoingTo(h, conversationId)).toEqual([]);
    // Claimed meanwhile: nobody else retries it while the form is open.
    await eventually(() => (retryButtons(rootsIn(h, ALERTS)[0]).length === 0 ? true : undefined), 'the claim');

    await h.interactive({
      type: 'view_closed',
      user: { id: USER.id, name: USER.name },
      team: { id: 'T0TEST0001' },
      view: {
        id: String(opened.id ?? 'V1'),
        callback_id: 'whatsapp_send_modal',
        private_metadata: view.private_metadata,
      },
    });
    await eventually(() => (retryButtons(rootsIn(h, ALERTS)[0]).length === 1 ? true : undefined), 'the button back');
  });

  test('a Retry click on an alert the bridge does not know is refused politely', async () => {
    const h = await startWithAlerts();
    await h.click({
      actionId: 'retry_send',
      value: 'no-such-send',
      channel: { id: ALERTS, name: 'whatsapp-alerts' },
      message: { ts: '1700000000.000100', text: 'old alert' },
    });
    const told = await eventually(() => responseTexts(h)[0], 'an answer to the click');
    expect(told).toMatch(/no longer stored|no longer known/);
    expect(h.slack.calls('chat.postMessage')).toEqual([]);
  });
});

describe('WhatsApp refuses a message Chatwoot accepted', () => {
  test('the thread goes from accepted to Failed with the reason, one alert, and an audit line saying failed', async () => {
    const h = await start({
      env: { SLACK_ALERT_CHANNEL: ALERTS },
      chatwoot: {
        delivery: () => ({ outcome: 'failed', externalError: '131026: Message undeliverable', failedAfterMs: 30 }),
      },
    });
    h.slack.addChannel({ id: ALERTS, name: 'whatsapp-alerts', member: true });
    const { conversationId } = h.customer({ name: 'Undeliverable Person' });
    await h.command(`send ${conversationId} This will bounce`);
    const { replies } = await threadReaches(h, CHANNEL, conversationId, /Failed/);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toMatch(/WhatsApp could not deliver it/);
    // The customer got nothing, but Chatwoot holds the message: the thread must not say Sent any more.
    expect(replies[0]?.text).not.toMatch(/Sent:/);
    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the alert');
    expect(shownText(alert)).toContain('Undeliverable Person');
    expect(retryButtons(alert)).toHaveLength(1);
    await eventually(
      () => (h.logs().some((line) => line['audit'] === true && line['outcome'] === 'failed') ? true : undefined),
      'an audit line with outcome failed',
    );
  });
});

describe('alerts are grouped', () => {
  test('several sends failing at about the same time make ONE alert listing each, with a Retry button each', async () => {
    // A wide grouping window so the test does not depend on how fast the machine is.
    const h = await startWithAlerts({ alertGroupWindowMs: 1_000 });
    const customers = [1, 2, 3].map((n) => h.customer({ name: `Closed Window ${n}`, wrote: false }));
    for (const { conversationId } of customers) await h.command(`send ${conversationId} Update on your order`);
    for (const { conversationId } of customers) await threadReaches(h, CHANNEL, conversationId, /Failed/);

    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the grouped alert');
    expect(rootsIn(h, ALERTS)).toHaveLength(1);
    await eventually(() => alertLogs(h)[0], 'the alert to be stored');
    expect(alertLogs(h)).toEqual([expect.objectContaining({ failures: 3 })]);
    const shown = shownText(alert);
    expect(shown).toMatch(/3 WhatsApp messages failed/);
    for (const { conversationId } of customers) expect(shown).toContain(`conversation #${conversationId}`);
    expect(retryButtons(alert)).toHaveLength(3);
    expect(new Set(retryButtons(alert)).size).toBe(3);

    // Retrying one of them leaves the others' buttons in place.
    const [first] = customers;
    if (first === undefined) throw new Error('no customer');
    h.chatwoot.addIncomingMessage(first.conversationId, { content: 'I am here now' });
    const firstSend = retryButtons(alert)[0] ?? '';
    await h.click({
      actionId: 'retry_send',
      value: firstSend,
      channel: { id: ALERTS, name: 'whatsapp-alerts' },
      message: { ts: alert.ts, text: alert.text },
    });
    const edited = await eventually(() => {
      const now = rootsIn(h, ALERTS)[0];
      return retryButtons(now).length === 2 ? now : undefined;
    }, 'the grouped alert to lose one button');
    expect(retryButtons(edited)).not.toContain(firstSend);
    expect(shownText(edited)).toMatch(new RegExp(`Retried by <@${USER.id}>`));
    await threadReaches(h, CHANNEL, first.conversationId, /Retry by[^\n]*(Sent|Delivered)/);
    expect(outgoingTo(h, first.conversationId)).toHaveLength(1);
  });
});

describe('the alert does not depend on the thread', () => {
  test('a send whose thread could not be posted anywhere still raises the alert', async () => {
    const h = await startWithAlerts();
    const { conversationId } = h.customer({ name: 'Nowhere Thread', wrote: false });
    // The channel refuses the bot, and so does the user's DM with the app.
    h.slack.fault('chat.postMessage', { error: 'not_in_channel' });
    h.slack.fault('chat.postMessage', { error: 'restricted_action' });
    await h.command(`send ${conversationId} Nobody will see this thread`);
    await eventually(
      () => (h.slack.calls('chat.postMessage').filter((call) => !call.ok).length === 2 ? true : undefined),
      'both thread posts to be refused',
    );
    await eventually(
      () => (h.logs().some((line) => line['audit'] === true && line['outcome'] === 'failed') ? true : undefined),
      'the send to fail (window closed)',
    );
    const alert = await eventually(() => rootsIn(h, ALERTS)[0], 'the alert, although the thread is nowhere', 3_000);
    expect(shownText(alert)).toContain('Nowhere Thread');
    expect(retryButtons(alert)).toHaveLength(1);
  });
});
