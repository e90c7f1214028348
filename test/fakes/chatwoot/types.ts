export type Role = 'administrator' | 'agent';
export type AccountStatus = 'active' | 'suspended';
export type ConversationStatus = 'open' | 'resolved' | 'pending' | 'snoozed';
export type MessageStatus = 'sent' | 'delivered' | 'read' | 'failed';
export type MessageType = 'incoming' | 'outgoing' | 'activity' | 'template';
export type ChannelType =
  | 'Channel::Whatsapp'
  | 'Channel::TwilioSms'
  | 'Channel::Api'
  | 'Channel::WebWidget'
  | 'Channel::Email'
  | 'Channel::Sms'
  | 'Channel::FacebookPage'
  | 'Channel::Instagram'
  | 'Channel::Telegram'
  | 'Channel::Line'
  | 'Channel::Tiktok';

/** When WhatsApp delivery steps happen, in milliseconds after the message was created. `null` means never. */
export interface DeliveryTimings {
  /**
   * When Chatwoot's SendReplyJob runs and calls the provider: `source_id` is set (or the message fails).
   * `null` models a stuck job queue: the message stays `sent` with `source_id: null`.
   * @default 20
   */
  sentAfterMs?: number | null;
  /** @default 40 */
  deliveredAfterMs?: number | null;
  /** @default null */
  readAfterMs?: number | null;
  /**
   * Extra job delay when the message has attachments (`SendReplyJob.set(wait: 2.seconds)`).
   * @default 2000
   */
  attachmentDelayMs?: number;
}

/** What the provider (Meta Cloud API, 360dialog or Twilio) does with one outgoing message. */
export type DeliveryPlan =
  | {
      /** The provider accepts the send: `source_id` is set, then status webhooks arrive. */
      outcome: 'accepted';
      deliveredAfterMs?: number | null;
      readAfterMs?: number | null;
    }
  | {
      /** The provider refuses the send call: status `failed`, `external_error` set, `source_id` stays null. */
      outcome: 'rejected';
      externalError: string;
    }
  | {
      /** Accepted (source_id set), then a `failed` status webhook, e.g. `131026: Message undeliverable`. */
      outcome: 'failed';
      externalError: string;
      /** @default the delivered time */
      failedAfterMs?: number;
    };

export interface DeliveryContext {
  message: FakeMessage;
  conversation: FakeConversation;
  inbox: FakeInbox;
  /** The contact_inbox source_id the provider is called with (WhatsApp: phone digits without `+`). */
  recipient: string;
  /** `template` when template_params are present or the 24-hour window is closed. */
  kind: 'session' | 'template';
  /** What the fake would do without a decider (includes its Meta-like checks). */
  defaultPlan: DeliveryPlan;
}

/** Returns a plan for this message, or undefined to keep `defaultPlan`. */
export type DeliveryDecider = (context: DeliveryContext) => DeliveryPlan | undefined;

export interface FakeUserInit {
  id?: number;
  name?: string;
  email?: string;
  role?: Role;
  token?: string;
}

export interface FakeChatwootOptions {
  /** @default 1 */
  accountId?: number;
  /** @default 'Acme' */
  accountName?: string;
  /** Reported by `GET /api`. @default '4.15.1' */
  version?: string;
  /** The user who owns the main API token. @default administrator `{ id: 1, name: 'Slack Bridge', token: 'cw-user-token' }` */
  user?: FakeUserInit;
  /** Rack::Attack `req/ip` limit per fixed minute window. @default off (Chatwoot safelists 127.0.0.1) */
  rateLimitPerMinute?: number | false;
  /** Rack::Attack limit for `/contacts/search` per account per minute. `false` disables it. @default 100 */
  contactSearchPerMinute?: number | false;
  /** Added before every response. @default 0 */
  latencyMs?: number;
  /** Clock for created_at, the 24-hour window and rate windows. @default Date.now */
  now?: () => number;
  /** Oldest request log entries are dropped beyond this many (keeps long benchmarks bounded). @default 10000 */
  requestLogLimit?: number;
  /** How WhatsApp delivery progresses. @default `{ sentAfterMs: 20, deliveredAfterMs: 40, readAfterMs: null }` */
  delivery?: DeliveryTimings | DeliveryDecider;
  /** How account webhooks are delivered. */
  webhooks?: FakeWebhookOptions;
}

/** `Webhook::ALLOWED_WEBHOOK_EVENTS` (app/models/webhook.rb). */
export type WebhookEventName =
  | 'conversation_status_changed'
  | 'conversation_updated'
  | 'conversation_created'
  | 'contact_created'
  | 'contact_updated'
  | 'message_created'
  | 'message_updated'
  | 'webwidget_triggered'
  | 'inbox_created'
  | 'inbox_updated'
  | 'conversation_typing_on'
  | 'conversation_typing_off';

export interface FakeWebhookOptions {
  /** `WEBHOOK_TIMEOUT`: open and read timeout of each delivery. @default 5000 */
  timeoutMs?: number;
  /** Queue latency before each delivery (the Sidekiq `medium` queue). @default 0 */
  delayMs?: number;
  /**
   * Chatwoot ≥ 4.14 without `SAFE_FETCH_ALLOW_PRIVATE_NETWORK`: deliveries to loopback/private addresses fail
   * (`Hostname '127.0.0.1' has no public ip addresses`). @default false (tests use loopback receivers)
   */
  refusePrivateTargets?: boolean;
}

export interface FakeWebhookInit {
  url: string;
  /** Any strings: the model validates them like the API does (non-empty subset of the allowed events). @default the column default (8 events) */
  subscriptions?: string[];
  /** @default a generated 24-character token (`has_secure_token :secret`) */
  secret?: string;
  /** @default the main account */
  accountId?: number;
  name?: string;
  /** Stored and shown, but never used to filter deliveries (as in Chatwoot). */
  inboxId?: number;
}

export interface FakeWebhook {
  id: number;
  accountId: number;
  url: string;
  name: string | null;
  subscriptions: string[];
  secret: string;
  inboxId: number | null;
}

export interface FakeWebhookDelivery {
  webhookId: number;
  url: string;
  event: string;
  /** `X-Chatwoot-Delivery` (a new UUID per webhook and event). */
  deliveryId: string;
  /**
   * The HTTP status the receiver answered (non-2xx is a failure Chatwoot only logs), `pending` while in flight,
   * `error` when no response came (refused, reset, timeout, SSRF refusal), `dropped` when webhooks were paused.
   */
  status: number | 'pending' | 'error' | 'dropped';
  /** A 2xx answer. */
  ok: boolean;
  /** What Chatwoot would log: `500 Internal Server Error`, `Net::ReadTimeout`, … */
  error: string | null;
  /** When it was sent (or dropped), on the fake's clock (epoch ms). */
  at: number;
  /** `X-Chatwoot-Timestamp` (unix seconds). */
  timestamp: number;
  /** The headers as sent (`Content-Type`, `Accept`, `X-Chatwoot-*`, …). */
  headers: Record<string, string>;
  /** The exact bytes sent, as a string (the signature covers these). */
  rawBody: string;
  /** The parsed payload. */
  body: Record<string, unknown>;
}

/** A request a test can send to the app's webhook endpoint: a replay, or a forgery. */
export interface FakeWebhookRequest {
  /** The webhook's URL when known. */
  url: string | null;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookRequestOptions {
  /** Sign with this secret instead of the webhook's. */
  secret?: string;
  /** `X-Chatwoot-Timestamp` in unix seconds. @default the original delivery's, or now */
  timestamp?: number;
  /** @default the original delivery's, or a new UUID */
  deliveryId?: string;
}

export interface FakeAccount {
  id: number;
  name: string;
  status: AccountStatus;
}

export interface FakeUser {
  id: number;
  name: string;
  email: string;
  token: string;
  accounts: Array<{ accountId: number; role: Role }>;
}

export interface FakeAgentBot {
  id: number;
  name: string;
  token: string;
  /** `null` for a global bot. */
  accountId: number | null;
  inboxIds: number[];
}

export interface MessageTemplate {
  name: string;
  language: string;
  status: string;
  category?: string;
  parameter_format?: 'POSITIONAL' | 'NAMED';
  components?: Array<{ type: string; text?: string; format?: string; [key: string]: unknown }>;
  [key: string]: unknown;
}

export interface FakeInboxInit {
  name: string;
  channelType: ChannelType;
  accountId?: number;
  /** Twilio only. @default 'sms' */
  medium?: 'whatsapp' | 'sms';
  /** WhatsApp only: `default` is 360dialog. @default 'whatsapp_cloud' */
  provider?: 'whatsapp_cloud' | 'default';
  phoneNumber?: string;
  lockToSingleConversation?: boolean;
  /** Synced templates (Meta's shape). Template sends must match an APPROVED one by name and language. */
  messageTemplates?: MessageTemplate[];
  /** API inboxes: `agent_reply_time_window` in hours (a reply window like WhatsApp's). */
  agentReplyTimeWindowHours?: number;
  /** Agents (user ids) who are members of the inbox. */
  memberIds?: number[];
}

export interface FakeInbox {
  id: number;
  accountId: number;
  name: string;
  channelType: ChannelType;
  channelId: number;
  medium: 'whatsapp' | 'sms' | null;
  provider: 'whatsapp_cloud' | 'default' | null;
  phoneNumber: string | null;
  lockToSingleConversation: boolean;
  messageTemplates: MessageTemplate[];
  memberIds: number[];
}

export interface FakeContactInit {
  name?: string;
  phoneNumber?: string;
  email?: string;
  identifier?: string;
  accountId?: number;
  blocked?: boolean;
  additionalAttributes?: Record<string, unknown>;
  customAttributes?: Record<string, unknown>;
}

export interface FakeContact {
  id: number;
  accountId: number;
  name: string;
  phoneNumber: string | null;
  email: string | null;
  identifier: string | null;
  blocked: boolean;
  contactInboxes: Array<{ id: number; inboxId: number; sourceId: string }>;
}

export interface FakeContactInbox {
  id: number;
  contactId: number;
  inboxId: number;
  sourceId: string;
}

export interface FakeConversationInit {
  inboxId: number;
  contactId: number;
  status?: ConversationStatus;
  /** Use (or create) the contact_inbox with this source_id, e.g. the Brazil/Argentina wa_id without the 9. */
  sourceId?: string;
  assigneeId?: number;
  labels?: string[];
  /** created_at (epoch ms). @default now() */
  at?: number;
}

export interface FakeConversation {
  /** The display_id: what every URL and JSON `id` uses. */
  id: number;
  accountId: number;
  inboxId: number;
  contactId: number;
  contactInboxId: number;
  sourceId: string;
  status: ConversationStatus;
  assigneeId: number | null;
  labels: string[];
  canReply: boolean;
  createdAt: number;
  lastActivityAt: number;
  snoozedUntil: number | null;
}

export interface FakeAttachment {
  id: number;
  fileType: 'image' | 'audio' | 'video' | 'file';
  filename: string;
  contentType: string;
  size: number;
}

export interface FakeMessage {
  id: number;
  accountId: number;
  inboxId: number;
  /** Display id of the conversation. */
  conversationId: number;
  messageType: MessageType;
  contentType: string;
  content: string | null;
  private: boolean;
  status: MessageStatus;
  sourceId: string | null;
  externalError: string | null;
  contentAttributes: Record<string, unknown>;
  additionalAttributes: Record<string, unknown>;
  sender: { type: 'user' | 'contact' | 'agent_bot'; id: number } | null;
  attachments: FakeAttachment[];
  createdAt: number;
  /** Every status the message has had, oldest first. */
  statusHistory: Array<{ status: MessageStatus; at: number }>;
}

export interface IncomingMessageInit {
  content: string;
  /** created_at (epoch ms). @default now() */
  at?: number;
  sourceId?: string;
}

export interface OutgoingMessageInit {
  content: string;
  at?: number;
  status?: MessageStatus;
  sourceId?: string | null;
  private?: boolean;
  externalError?: string;
  templateParams?: Record<string, unknown>;
}

/** Payloads of the in-process event seam that a later webhook sender can subscribe to. */
export interface FakeChatwootEvents {
  message_created: [{ message: FakeMessage; conversation: FakeConversation }];
  message_updated: [{ message: FakeMessage; conversation: FakeConversation; changed: string[] }];
  conversation_created: [{ conversation: FakeConversation }];
  conversation_status_changed: [{ conversation: FakeConversation; previousStatus: ConversationStatus }];
}
