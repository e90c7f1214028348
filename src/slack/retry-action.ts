import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { type Bridge, SubmitError } from '../bridge.ts';
import type { Config } from '../config/load-config.ts';
import type { SendRecord } from '../delivery/send-record.ts';
import type { Logger } from '../shared/logger.ts';
import { type Alerter, RETRY_ACTION_ID } from './alerts.ts';
import { checkPermission, ENTRY_POINTS } from './entry-points.ts';
import type { ModalMetadata } from './send-modal.ts';
import type { ThreadReporter } from './thread-reporter.ts';

export interface RetryDeps {
  readonly config: Pick<Config, 'slack'>;
  readonly bridge: Pick<Bridge, 'get' | 'submit' | 'resolver'>;
  /** Opens the send form (a closed window needs a template: a choice only a person can make). */
  readonly openForm: (triggerId: string, metadata: ModalMetadata) => Promise<void>;
  readonly reporter: ThreadReporter;
  readonly alerter: Alerter;
  readonly logger: Logger;
}

/**
 * The Retry button of a failure alert: the first click claims it (the alert then shows who retried), the send is
 * submitted again to the conversation the original resolved to, and reported in the original's thread.
 */
export function registerRetry(app: App, deps: RetryDeps): void {
  const { config, bridge, reporter, alerter, logger } = deps;

  /** Where free text cannot go now (the window is still closed, the number has no conversation): the form's target. */
  const needsTemplate = async (original: SendRecord): Promise<{ value: string; label: string } | undefined> => {
    if (original.content.kind !== 'text') return undefined;
    const code = original.failure?.code;
    const reference = original.reference;
    if (code === 'unknown_number' && reference.kind === 'phone') {
      return { value: `p:${reference.e164}`, label: `New conversation with ${reference.e164} (template only)` };
    }
    const conversationId = original.conversation?.id;
    if (code !== 'window_closed' || conversationId === undefined) return undefined;
    const window = await bridge.resolver
      .currentWindow(conversationId, { lane: 'interactive', deadlineMs: 1_500 }, 15_000)
      .catch(() => undefined);
    return window?.open === true
      ? undefined
      : { value: `c:${conversationId}`, label: `Conversation #${conversationId}` };
  };

  app.action<BlockAction<ButtonAction>>(RETRY_ACTION_ID, async ({ ack, body, action, respond }) => {
    await ack();
    const tell = (text: string) =>
      respond({ response_type: 'ephemeral', replace_original: false, text }).catch((error: unknown) =>
        logger.warn({ err: error }, 'could not answer a button click'),
      );
    const sendId = action.value ?? '';
    const alertTs = (body.container?.['message_ts'] as string | undefined) ?? body.message?.ts ?? '';
    const userId = body.user.id;
    const original = await bridge.get(sendId);
    if (original === undefined) {
      await tell('This send is no longer stored (sends are kept for 30 days), so it cannot be retried.');
      return;
    }
    const permission = checkPermission(config.slack, { userId, channelId: original.requestedBy.channelId });
    if (!permission.ok) {
      await tell(permission.message);
      return;
    }
    const claim = await alerter.claim(alertTs, sendId, userId);
    if (!claim.ok) {
      await tell(
        claim.reason === 'already_retried'
          ? `<@${claim.by ?? 'someone'}> already retried this send; the result is in its thread.`
          : 'This alert is no longer known to the bridge, so it cannot be retried from here.',
      );
      return;
    }
    // The same free text would fail again where only a template can go: the form offers the approved templates.
    const form = await needsTemplate(original);
    if (form !== undefined) {
      await deps
        .openForm(body.trigger_id, { retryOf: { sendId, alertTs }, conversation: form, kind: 'whatsapp' })
        .catch(async (error: unknown) => {
          logger.warn({ err: error, sendId }, 'could not open the form for a retry');
          await alerter.release(alertTs, sendId);
          await tell(
            'Only an approved template can reach this customer now, and the form to choose one could not open. Try again.',
          );
        });
      return;
    }
    try {
      const { record } = await bridge.submit({
        idempotencyKey: ENTRY_POINTS.button.key({ messageTs: alertTs, actionId: RETRY_ACTION_ID, value: sendId }),
        // The same person: the conversation it was resolved to, when it got that far.
        reference:
          original.conversation === undefined
            ? original.reference.kind === 'phone'
              ? { kind: 'phone', e164: original.reference.e164, country: original.reference.country }
              : original.reference
            : { kind: 'id', conversationId: original.conversation.id, looksLikePhone: false },
        content: original.content,
        requestedBy: {
          via: ENTRY_POINTS.button.via,
          userId,
          ...(original.requestedBy.channelId === undefined ? {} : { channelId: original.requestedBy.channelId }),
        },
      });
      const thread = await reporter.get(sendId);
      if (thread?.rootTs !== undefined) await reporter.openInThread(record, thread, `Retry by <@${userId}>: `);
      else
        await reporter.open(record, {
          channel: config.slack.alertChannel ?? userId,
          userId,
        });
      logger.info({ sendId: record.id, retryOf: sendId, slackUser: userId }, 'retry started from an alert');
    } catch (error) {
      await alerter.release(alertTs, sendId);
      logger.error({ err: error, sendId }, 'could not start a retry');
      await tell(
        error instanceof SubmitError
          ? error.message
          : 'The retry could not be stored, so nothing was sent. Please try again in a minute.',
      );
    }
  });
}
