import { randomBytes } from 'node:crypto';
import { charLength, isRecord, present } from './ruby.ts';
import type { ChatwootStore, ConversationRecord, InboxRecord, MessageRecord } from './store.ts';
import type { TimerRegistry } from './timers.ts';
import type { DeliveryContext, DeliveryDecider, DeliveryPlan, DeliveryTimings, MessageTemplate } from './types.ts';

/** Whatsapp::SendOnWhatsappService when the template path has no name (blank name, or window closed without template). */
export const TEMPLATE_NOT_FOUND_ERROR = 'Template not found or invalid template name';
/** Graph API `error.message` for a text body over 4096 characters (Chatwoot stores `error.message`). */
export const META_INVALID_PARAMETER_ERROR = '(#100) Invalid parameter';
export const META_TEXT_BODY_REQUIRED_ERROR = "(#100) The parameter text['body'] is required.";
export const META_TEMPLATE_MISSING_ERROR = '(#132001) Template name does not exist in the translation';
export const META_TEMPLATE_PARAMS_ERROR = '(#132000) Number of parameters does not match the expected number of params';
/** Twilio::SendOnTwilioService when no content template matches. */
export const TWILIO_TEMPLATE_NOT_FOUND_ERROR = 'Template not found';
/** Twilio status callback for a free-form WhatsApp message outside the window (ErrorCode only). */
export const TWILIO_OUTSIDE_WINDOW_ERROR = 'Error code: 63016';
export const WHATSAPP_TEXT_LIMIT = 4096;

const DEFAULT_TIMINGS: Required<DeliveryTimings> = {
  sentAfterMs: 20,
  deliveredAfterMs: 40,
  readAfterMs: null,
  attachmentDelayMs: 2000,
};

/** SendReplyJob plus the provider and its status webhooks, on timers. */
export class DeliverySimulator {
  private readonly store: ChatwootStore;
  private readonly timers: TimerRegistry;
  private readonly timings: Required<DeliveryTimings>;
  private readonly decider: DeliveryDecider | undefined;

  constructor(store: ChatwootStore, timers: TimerRegistry, delivery: DeliveryTimings | DeliveryDecider | undefined) {
    this.store = store;
    this.timers = timers;
    if (typeof delivery === 'function') {
      this.timings = { ...DEFAULT_TIMINGS };
      this.decider = delivery;
    } else {
      this.timings = { ...DEFAULT_TIMINGS, ...delivery };
      this.decider = undefined;
    }
  }

  /** `Message#send_reply`: enqueue SendReplyJob (2 s later when the message has attachments). */
  enqueue(message: MessageRecord): void {
    const sentAfter = this.timings.sentAfterMs;
    if (sentAfter === null) return;
    const offset = message.attachments.length > 0 ? this.timings.attachmentDelayMs : 0;
    this.timers.set(() => this.perform(message), sentAfter + offset);
  }

  private perform(message: MessageRecord): void {
    if (message.messageType !== 1 && message.messageType !== 3) return;
    if (message.private || present(message.sourceId) || message.contentType === 'voice_call') return;
    const conversation = this.store.conversations.get(message.conversationDbId);
    if (!conversation) return;
    const inbox = this.store.requireInbox(conversation.inboxId);
    if (inbox.channelType === 'Channel::Whatsapp') this.sendOnWhatsapp(message, conversation, inbox);
    else if (inbox.channelType === 'Channel::TwilioSms') this.sendOnTwilio(message, conversation, inbox);
  }

  private sendOnWhatsapp(message: MessageRecord, conversation: ConversationRecord, inbox: InboxRecord) {
    const templateParams = message.additionalAttributes['template_params'];
    const kind = present(templateParams) || !this.store.canReply(conversation) ? 'template' : 'session';
    let defaultPlan: DeliveryPlan;
    if (kind === 'template') {
      if (!isRecord(templateParams) || !present(templateParams['name'])) {
        this.store.updateMessageStatus(message, 'failed', TEMPLATE_NOT_FOUND_ERROR);
        return;
      }
      defaultPlan = metaTemplatePlan(inbox.messageTemplates, templateParams);
    } else {
      defaultPlan = metaSessionPlan(message);
    }
    const plan = this.decide(message, conversation, inbox, kind, defaultPlan);
    this.execute(message, plan, () => `wamid.HBgL${randomBytes(27).toString('base64')}`);
  }

  private sendOnTwilio(message: MessageRecord, conversation: ConversationRecord, inbox: InboxRecord) {
    const templateParams = message.additionalAttributes['template_params'];
    const kind = present(templateParams) ? 'template' : 'session';
    if (kind === 'template') {
      const name = isRecord(templateParams) ? templateParams['name'] : undefined;
      if (!inbox.messageTemplates.some((t) => t.name === name)) {
        this.store.updateMessageStatus(message, 'failed', TWILIO_TEMPLATE_NOT_FOUND_ERROR);
        return;
      }
    }
    const outsideWindow = kind === 'session' && inbox.medium === 'whatsapp' && !this.store.canReply(conversation);
    const defaultPlan: DeliveryPlan = outsideWindow
      ? { outcome: 'failed', externalError: TWILIO_OUTSIDE_WINDOW_ERROR }
      : { outcome: 'accepted' };
    const plan = this.decide(message, conversation, inbox, kind, defaultPlan);
    this.execute(message, plan, () => `SM${randomBytes(16).toString('hex')}`);
  }

  private decide(
    message: MessageRecord,
    conversation: ConversationRecord,
    inbox: InboxRecord,
    kind: DeliveryContext['kind'],
    defaultPlan: DeliveryPlan,
  ): DeliveryPlan {
    if (!this.decider) return defaultPlan;
    const context: DeliveryContext = {
      message: this.store.toFakeMessage(message),
      conversation: this.store.toFakeConversation(conversation),
      inbox: this.store.toFakeInbox(inbox),
      recipient: this.store.contactInboxes.get(conversation.contactInboxId)?.sourceId ?? '',
      kind,
      defaultPlan,
    };
    return this.decider(context) ?? defaultPlan;
  }

  /** Applies a plan at job time; later steps keep their distance from `sentAfterMs`, so attachment delays shift them all. */
  private execute(message: MessageRecord, plan: DeliveryPlan, newSourceId: () => string): void {
    if (plan.outcome === 'rejected') {
      this.store.updateMessageStatus(message, 'failed', plan.externalError);
      return;
    }
    this.store.setSourceId(message, newSourceId());
    const sentAfter = this.timings.sentAfterMs ?? 0;
    const at = (ms: number) => Math.max(0, ms - sentAfter);
    if (plan.outcome === 'failed') {
      const failedAfter = plan.failedAfterMs ?? this.timings.deliveredAfterMs ?? sentAfter;
      this.timers.set(() => this.store.updateMessageStatus(message, 'failed', plan.externalError), at(failedAfter));
      return;
    }
    const delivered = plan.deliveredAfterMs === undefined ? this.timings.deliveredAfterMs : plan.deliveredAfterMs;
    const read = plan.readAfterMs === undefined ? this.timings.readAfterMs : plan.readAfterMs;
    if (delivered !== null) this.timers.set(() => this.store.updateMessageStatus(message, 'delivered'), at(delivered));
    if (read !== null) this.timers.set(() => this.store.updateMessageStatus(message, 'read'), at(read));
  }
}

/** Meta's answer to a session (free-form) message. */
function metaSessionPlan(message: MessageRecord): DeliveryPlan {
  if (message.attachments.length > 0) return { outcome: 'accepted' };
  if (!present(message.content)) return { outcome: 'rejected', externalError: META_TEXT_BODY_REQUIRED_ERROR };
  if (charLength(message.content ?? '') > WHATSAPP_TEXT_LIMIT) {
    return { outcome: 'rejected', externalError: META_INVALID_PARAMETER_ERROR };
  }
  return { outcome: 'accepted' };
}

/** Meta's answer to a template send: the template must exist (approved, same language) with matching body params. */
function metaTemplatePlan(templates: MessageTemplate[], params: Record<string, unknown>): DeliveryPlan {
  const language = typeof params['language'] === 'string' ? params['language'].toLowerCase() : undefined;
  const template = templates.find(
    (t) =>
      t.name === params['name'] && t.language?.toLowerCase() === language && t.status?.toLowerCase() === 'approved',
  );
  if (!template) return { outcome: 'rejected', externalError: META_TEMPLATE_MISSING_ERROR };
  const body = template.components?.find((c) => c.type.toUpperCase() === 'BODY')?.text ?? '';
  const expected = new Set([...body.matchAll(/\{\{\s*([^{}]+?)\s*\}\}/g)].map((m) => m[1])).size;
  if (expected !== bodyParameterCount(params['processed_params'])) {
    return { outcome: 'rejected', externalError: META_TEMPLATE_PARAMS_ERROR };
  }
  return { outcome: 'accepted' };
}

/** Body parameters after Whatsapp::TemplateParameterConverterService (legacy array/flat hash → `{body:…}`). */
function bodyParameterCount(processed: unknown): number {
  const countPresent = (values: unknown[]) => values.filter((v) => present(v)).length;
  if (Array.isArray(processed)) return countPresent(processed);
  if (!isRecord(processed)) return 0;
  const structured = ['header', 'body', 'footer', 'buttons'].some((key) => key in processed);
  const body = structured ? processed['body'] : processed;
  if (Array.isArray(body)) return countPresent(body);
  return isRecord(body) ? countPresent(Object.values(body)) : 0;
}
