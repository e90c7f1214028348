import { cloneJson, isoTime, seconds } from './ruby.ts';
import type {
  AccountRecord,
  AttachmentRecord,
  ChatwootStore,
  ContactRecord,
  ConversationRecord,
  InboxRecord,
  MessageRecord,
  UserRecord,
} from './store.ts';
import type { WebhookRecord } from './webhooks.ts';

/** The jbuilder views Chatwoot renders, as plain functions over store records. */
export class Views {
  private readonly store: ChatwootStore;
  private readonly baseUrl: () => string;

  constructor(store: ChatwootStore, baseUrl: () => string) {
    this.store = store;
    this.baseUrl = baseUrl;
  }

  /** `api/v1/models/_message.json.jbuilder`. */
  message(message: MessageRecord, echoId?: unknown): Record<string, unknown> {
    const conversation = this.store.conversations.get(message.conversationDbId);
    const out: Record<string, unknown> = { id: message.id, content: message.content, inbox_id: message.inboxId };
    if (echoId !== undefined && echoId !== null && echoId !== false) out['echo_id'] = echoId;
    Object.assign(out, {
      conversation_id: conversation?.displayId ?? null,
      message_type: message.messageType,
      content_type: message.contentType,
      status: message.status,
      content_attributes: cloneJson(message.contentAttributes),
      created_at: seconds(message.createdAt),
      private: message.private,
      source_id: message.sourceId,
    });
    const sender = this.senderPushData(message);
    if (sender) out['sender'] = sender;
    if (message.attachments.length > 0) out['attachments'] = message.attachments.map((a) => this.attachment(a));
    return out;
  }

  /** `Message#push_event_data`: every column plus conversation and sender data. */
  messagePushEventData(message: MessageRecord): Record<string, unknown> {
    const conversation = this.store.conversations.get(message.conversationDbId);
    const contactInbox = conversation ? this.store.contactInboxes.get(conversation.contactInboxId) : undefined;
    const out: Record<string, unknown> = {
      id: message.id,
      content: message.content,
      account_id: message.accountId,
      inbox_id: message.inboxId,
      conversation_id: conversation?.displayId ?? null,
      message_type: message.messageType,
      created_at: seconds(message.createdAt),
      updated_at: isoTime(message.updatedAt),
      private: message.private,
      status: message.status,
      source_id: message.sourceId,
      content_type: message.contentType,
      content_attributes: cloneJson(message.contentAttributes),
      sender_type: message.sender?.type ?? null,
      sender_id: message.sender?.id ?? null,
      external_source_ids: {},
      additional_attributes: cloneJson(message.additionalAttributes),
      processed_message_content: message.content === null ? null : [...message.content].slice(0, 150_000).join(''),
      sentiment: {},
      conversation: conversation
        ? {
            assignee_id: conversation.assigneeId,
            unread_count: this.store.unreadCount(conversation),
            last_activity_at: seconds(conversation.lastActivityAt),
            contact_inbox: { source_id: contactInbox?.sourceId ?? null },
          }
        : null,
    };
    if (message.attachments.length > 0) out['attachments'] = message.attachments.map((a) => this.attachment(a));
    const sender = this.senderPushData(message);
    if (sender) out['sender'] = sender;
    return out;
  }

  private senderPushData(message: MessageRecord): Record<string, unknown> | null {
    const sender = message.sender;
    if (!sender) return null;
    if (sender.type === 'User') {
      const user = this.store.users.get(sender.id);
      return user ? this.userPushData(user, message.accountId) : null;
    }
    if (sender.type === 'AgentBot') {
      const bot = this.store.bots.get(sender.id);
      if (!bot) return null;
      return { id: bot.id, name: bot.name, avatar_url: '', type: 'agent_bot' };
    }
    const contact = this.store.contacts.get(sender.id);
    return contact ? this.contactPushData(contact) : null;
  }

  /** `User#push_event_data`. */
  userPushData(user: UserRecord, accountId: number): Record<string, unknown> {
    return {
      id: user.id,
      name: user.name,
      available_name: user.displayName ?? user.name,
      avatar_url: '',
      type: 'user',
      availability_status: this.store.membership(user, accountId) ? 'offline' : null,
      thumbnail: '',
    };
  }

  /** `Contact#push_event_data`. */
  contactPushData(contact: ContactRecord): Record<string, unknown> {
    return {
      additional_attributes: cloneJson(contact.additionalAttributes),
      custom_attributes: cloneJson(contact.customAttributes),
      email: contact.email,
      id: contact.id,
      identifier: contact.identifier,
      name: contact.name,
      phone_number: contact.phoneNumber,
      thumbnail: '',
      blocked: contact.blocked,
      type: 'contact',
    };
  }

  /** `Attachment#push_event_data` for uploaded files. */
  attachment(attachment: AttachmentRecord): Record<string, unknown> {
    const dataUrl = `${this.baseUrl()}/rails/active_storage/blobs/redirect/fake-${attachment.id}/${encodeURIComponent(attachment.filename)}`;
    const out: Record<string, unknown> = {
      id: attachment.id,
      message_id: attachment.messageId,
      file_type: attachment.fileType,
      account_id: attachment.accountId,
      extension: attachment.extension,
      content_type: attachment.contentType,
      data_url: dataUrl,
      thumb_url: attachment.fileType === 'image' ? `${dataUrl}?thumb=250` : '',
      file_size: attachment.byteSize,
      width: null,
      height: null,
    };
    if (attachment.fileType === 'audio') {
      out['data_url'] = `${dataUrl}?disposition=inline`;
      out['transcribed_text'] = '';
    }
    return out;
  }

  /** `api/v1/models/_contact.json.jbuilder`. */
  contact(contact: ContactRecord, withContactInboxes: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {
      additional_attributes: cloneJson(contact.additionalAttributes),
      availability_status: 'offline',
      email: contact.email,
      id: contact.id,
      name: contact.name,
      phone_number: contact.phoneNumber,
      blocked: contact.blocked,
      identifier: contact.identifier,
      thumbnail: '',
      custom_attributes: cloneJson(contact.customAttributes),
    };
    if (contact.lastActivityAt !== null) out['last_activity_at'] = seconds(contact.lastActivityAt);
    out['created_at'] = seconds(contact.createdAt);
    if (withContactInboxes) {
      out['contact_inboxes'] = this.store.contactInboxesOf(contact).map((ci) => ({
        source_id: ci.sourceId,
        inbox: this.inboxSlim(this.store.requireInbox(ci.inboxId)),
      }));
    }
    return out;
  }

  /** `api/v1/models/_inbox_slim.json.jbuilder`. */
  inboxSlim(inbox: InboxRecord): Record<string, unknown> {
    return {
      id: inbox.id,
      avatar_url: '',
      channel_id: inbox.channelId,
      name: inbox.name,
      channel_type: inbox.channelType,
      provider: inbox.provider,
    };
  }

  /** `Inbox#as_json`: the raw columns, as `contacts#create` renders `contact_inbox.inbox`. */
  inboxColumns(inbox: InboxRecord): Record<string, unknown> {
    return {
      id: inbox.id,
      channel_id: inbox.channelId,
      account_id: inbox.accountId,
      name: inbox.name,
      created_at: isoTime(inbox.createdAt),
      updated_at: isoTime(inbox.createdAt),
      channel_type: inbox.channelType,
      enable_auto_assignment: true,
      greeting_enabled: false,
      greeting_message: null,
      email_address: null,
      working_hours_enabled: false,
      out_of_office_message: null,
      timezone: 'UTC',
      enable_email_collect: true,
      csat_survey_enabled: false,
      allow_messages_after_resolved: true,
      auto_assignment_config: {},
      lock_to_single_conversation: inbox.lockToSingleConversation,
      portal_id: null,
      sender_name_type: 'friendly',
      business_name: null,
      csat_config: {},
    };
  }

  /** `api/v1/models/_inbox.json.jbuilder`; secrets only for administrators. */
  inbox(inbox: InboxRecord, isAdmin: boolean): Record<string, unknown> {
    const isWidget = inbox.channelType === 'Channel::WebWidget';
    const isTwilio = inbox.channelType === 'Channel::TwilioSms';
    const isWhatsapp = inbox.channelType === 'Channel::Whatsapp';
    const base = this.baseUrl();
    const callback: Partial<Record<string, string>> = {
      'Channel::TwilioSms': `${base}/twilio/callback`,
      'Channel::Sms': `${base}/webhooks/sms/${(inbox.phoneNumber ?? '').replace(/^\+/, '')}`,
      'Channel::Whatsapp': `${base}/webhooks/whatsapp/${inbox.phoneNumber ?? ''}`,
    };
    const out: Record<string, unknown> = {
      id: inbox.id,
      avatar_url: '',
      channel_id: inbox.channelId,
      name: inbox.name,
      channel_type: inbox.channelType,
      greeting_enabled: false,
      greeting_message: null,
      working_hours_enabled: false,
      enable_email_collect: true,
      csat_survey_enabled: false,
      csat_config: {},
      enable_auto_assignment: true,
      auto_assignment_config: {},
      out_of_office_message: null,
      working_hours: WEEKLY_SCHEDULE.map((day) => ({ ...day })),
      timezone: 'UTC',
      callback_webhook_url: callback[inbox.channelType] ?? null,
      allow_messages_after_resolved: true,
      lock_to_single_conversation: inbox.lockToSingleConversation,
      sender_name_type: 'friendly',
      business_name: null,
      allowed_domains: isWidget ? '' : null,
      widget_color: isWidget ? '#1f93ff' : null,
      website_url: isWidget ? 'https://example.com' : null,
      hmac_mandatory: isWidget ? false : null,
      welcome_title: isWidget ? '' : null,
      welcome_tagline: isWidget ? '' : null,
      web_widget_script: isWidget ? `<script>window.chatwootSettings = {};</script>` : null,
      website_token: isWidget ? inbox.identifier : null,
      selected_feature_flags: isWidget ? ['attachments', 'emoji_picker', 'end_conversation'] : null,
      reply_time: isWidget ? 'in_a_few_minutes' : null,
    };
    if (isWidget) {
      if (isAdmin) out['hmac_token'] = inbox.secret;
      Object.assign(out, { pre_chat_form_enabled: false, pre_chat_form_options: {}, continuity_via_email: true });
    }
    out['messaging_service_sid'] = null;
    out['phone_number'] = inbox.phoneNumber;
    if (isTwilio) {
      out['medium'] = inbox.medium;
      out['content_templates'] = {};
      if (isAdmin)
        Object.assign(out, {
          auth_token: `twilio-${inbox.secret}`,
          account_sid: 'AC00000000000000000000000000000000',
          api_key_sid: null,
        });
    }
    if (inbox.channelType === 'Channel::Api') {
      if (isAdmin) Object.assign(out, { hmac_token: inbox.secret, secret: inbox.secret });
      Object.assign(out, { webhook_url: null, inbox_identifier: inbox.identifier, additional_attributes: {} });
    }
    out['provider'] = inbox.provider;
    if (isWhatsapp) {
      out['message_templates'] = cloneJson(inbox.messageTemplates);
      if (isAdmin) {
        out['provider_config'] = {
          api_key: `fake-whatsapp-api-key-${inbox.id}`,
          phone_number_id: `10000000000000${inbox.id}`,
          business_account_id: `20000000000000${inbox.id}`,
        };
      }
      out['reauthorization_required'] = false;
      out['voice_enabled'] = false;
      out['inbound_calls_enabled'] = false;
    }
    return out;
  }

  /** `api/v1/accounts/webhooks/_webhook.json.jbuilder`: `inbox` only when the stored inbox_id finds one. */
  webhook(webhook: WebhookRecord): Record<string, unknown> {
    const out: Record<string, unknown> = {
      id: webhook.id,
      name: webhook.name,
      url: webhook.url,
      account_id: webhook.accountId,
      subscriptions: cloneJson(webhook.subscriptions),
      secret: webhook.secret,
    };
    const inbox = webhook.inboxId === null ? undefined : this.store.inboxes.get(webhook.inboxId);
    if (inbox) out['inbox'] = { id: inbox.id, name: inbox.name };
    return out;
  }

  /** `api/v1/models/_agent.json.jbuilder`. */
  agent(user: UserRecord, account: AccountRecord): Record<string, unknown> {
    return {
      id: user.id,
      account_id: account.id,
      availability_status: 'offline',
      auto_offline: true,
      confirmed: true,
      email: user.email,
      provider: 'email',
      available_name: user.displayName ?? user.name,
      name: user.name,
      role: this.store.membership(user, account.id)?.role ?? null,
      thumbnail: '',
    };
  }

  /** `api/v1/conversations/partials/_conversation.json.jbuilder`. */
  conversation(conversation: ConversationRecord): Record<string, unknown> {
    const account = this.store.requireAccount(conversation.accountId);
    const contact = this.store.requireContact(conversation.contactId);
    const inbox = this.store.requireInbox(conversation.inboxId);
    const contactInbox = this.store.contactInboxes.get(conversation.contactInboxId);
    const meta: Record<string, unknown> = { sender: this.contact(contact, false), channel: inbox.channelType };
    const assignee = conversation.assigneeId === null ? undefined : this.store.users.get(conversation.assigneeId);
    if (assignee && this.store.membership(assignee, account.id)) {
      meta['assignee'] = this.agent(assignee, account);
      meta['assignee_type'] = 'User';
    }
    meta['hmac_verified'] = contactInbox?.hmacVerified ?? null;
    const messages = this.store.conversationMessages(conversation);
    const last = messages.at(-1);
    const lastNonActivity = messages.filter((m) => m.messageType !== 2).at(-1);
    return {
      meta,
      id: conversation.displayId,
      messages: last ? [this.messagePushEventData(last)] : [],
      account_id: conversation.accountId,
      uuid: conversation.uuid,
      additional_attributes: cloneJson(conversation.additionalAttributes),
      agent_last_seen_at: seconds(conversation.agentLastSeenAt),
      assignee_last_seen_at: seconds(conversation.assigneeLastSeenAt),
      can_reply: this.store.canReply(conversation),
      contact_last_seen_at: seconds(conversation.contactLastSeenAt),
      custom_attributes: cloneJson(conversation.customAttributes),
      inbox_id: conversation.inboxId,
      labels: [...conversation.labels],
      muted: conversation.muted,
      snoozed_until: isoTime(conversation.snoozedUntil),
      status: conversation.status,
      created_at: seconds(conversation.createdAt),
      updated_at: conversation.updatedAt / 1000,
      timestamp: seconds(conversation.lastActivityAt),
      first_reply_created_at: seconds(conversation.firstReplyCreatedAt),
      unread_count: this.store.unreadCount(conversation),
      last_non_activity_message: lastNonActivity ? this.messagePushEventData(lastNonActivity) : null,
      last_activity_at: seconds(conversation.lastActivityAt),
      priority: conversation.priority,
      waiting_since: seconds(conversation.waitingSince),
      sla_policy_id: null,
    };
  }

  /** `accounts/conversations/messages/index.json.jbuilder` meta block. */
  messagesMeta(conversation: ConversationRecord): Record<string, unknown> {
    const account = this.store.requireAccount(conversation.accountId);
    const meta: Record<string, unknown> = {
      labels: [...conversation.labels],
      additional_attributes: cloneJson(conversation.additionalAttributes),
      contact: this.contactPushData(this.store.requireContact(conversation.contactId)),
    };
    const assignee = conversation.assigneeId === null ? undefined : this.store.users.get(conversation.assigneeId);
    if (assignee) meta['assignee'] = this.userPushData(assignee, account.id);
    meta['agent_last_seen_at'] = isoTime(conversation.agentLastSeenAt);
    meta['assignee_last_seen_at'] = isoTime(conversation.assigneeLastSeenAt);
    return meta;
  }

  /** `api/v1/models/_user.json.jbuilder` for `GET /api/v1/profile`. */
  profile(user: UserRecord): Record<string, unknown> {
    const active = [...user.memberships].sort((a, b) => (b.activeAt ?? -1) - (a.activeAt ?? -1))[0];
    return {
      access_token: user.token,
      account_id: active?.accountId ?? null,
      available_name: user.displayName ?? user.name,
      avatar_url: '',
      confirmed: true,
      display_name: user.displayName,
      message_signature: null,
      email: user.email,
      id: user.id,
      inviter_id: null,
      name: user.name,
      provider: 'email',
      pubsub_token: user.pubsubToken,
      role: active?.role ?? null,
      ui_settings: {},
      uid: user.email,
      type: null,
      accounts: user.memberships.map((membership) => {
        const account = this.store.requireAccount(membership.accountId);
        return {
          id: account.id,
          name: account.name,
          status: account.status,
          onboarding_step: null,
          active_at: isoTime(membership.activeAt),
          role: membership.role,
          permissions: [membership.role],
          availability: 'online',
          availability_status: 'offline',
          auto_offline: true,
          custom_role_id: null,
        };
      }),
    };
  }
}

const closedDay = { closed_all_day: true, open_hour: null, open_minutes: null, close_hour: null, close_minutes: null };
const workDay = { closed_all_day: false, open_hour: 9, open_minutes: 0, close_hour: 17, close_minutes: 0 };
const WEEKLY_SCHEDULE = [0, 1, 2, 3, 4, 5, 6].map((day) => ({
  day_of_week: day,
  ...(day === 0 || day === 6 ? closedDay : workDay),
  open_all_day: false,
}));
