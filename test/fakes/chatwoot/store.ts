import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isParamHash, type ParamHash, type ParamValue, UploadedFile } from './params.ts';
import {
  castBoolean,
  castInteger,
  castText,
  charLength,
  cloneJson,
  isRecord,
  NotAuthorized,
  ParameterMissing,
  present,
  RecordInvalid,
  RecordNotFound,
  UnhandledError,
} from './ruby.ts';
import type {
  AccountStatus,
  ChannelType,
  ConversationStatus,
  FakeChatwootEvents,
  FakeContactInit,
  FakeConversation,
  FakeInbox,
  FakeMessage,
  MessageStatus,
  MessageTemplate,
  MessageType,
  Role,
} from './types.ts';

export const MESSAGE_TYPES: readonly MessageType[] = ['incoming', 'outgoing', 'activity', 'template'];
export const CONTENT_TYPES: readonly string[] = [
  'text',
  'input_text',
  'input_textarea',
  'input_email',
  'input_select',
  'cards',
  'form',
  'article',
  'incoming_email',
  'input_csat',
  'integrations',
  'sticker',
  'voice_call',
];
export const CONVERSATION_STATUSES: readonly ConversationStatus[] = ['open', 'resolved', 'pending', 'snoozed'];
/** `CONVERSATION_MESSAGE_PER_MINUTE_LIMIT` (lib/limits.rb). */
export const MESSAGES_PER_MINUTE_LIMIT = 200;
export const MAX_CONTENT_LENGTH = 150_000;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_UPLOAD_BYTES = 40 * 1024 * 1024;

const WHATSAPP_BSUID = '[A-Z]{2}\\.(?:ENT\\.)?[A-Za-z0-9]{1,128}';
const WHATSAPP_SOURCE_ID = new RegExp(`^(?:\\d{1,15}|${WHATSAPP_BSUID})$`);
const TWILIO_SMS_SOURCE_ID = /^\+\d{1,15}$/;
const TWILIO_WHATSAPP_SOURCE_ID = new RegExp(`^(?:whatsapp:\\+\\d{1,15}|whatsapp:${WHATSAPP_BSUID})$`);
// The regexes as Ruby's Regexp#to_s prints them inside Chatwoot's validation messages.
const RUBY_WHATSAPP_REGEX = '(?-mix:\\A(?:\\d{1,15}|[A-Z]{2}\\.(?:ENT\\.)?[A-Za-z0-9]{1,128})\\z)';
const RUBY_TWILIO_SMS_REGEX = '(?-mix:\\A\\+\\d{1,15}\\z)';
const RUBY_TWILIO_WHATSAPP_REGEX =
  '(?-mix:\\A(?:whatsapp:\\+\\d{1,15}|whatsapp:[A-Z]{2}\\.(?:ENT\\.)?[A-Za-z0-9]{1,128})\\z)';
const E164 = /\+[1-9]\d{1,14}$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const IMAGE_TYPES = new Set(['image/jpeg', 'image/jpg', 'image/png', 'image/gif', 'image/bmp', 'image/webp', 'image']);
const VIDEO_TYPES = new Set(['video/ogg', 'video/mp4', 'video/webm', 'video/quicktime', 'video']);
const ACCEPTABLE_FILE_TYPES = new Set([
  'text/csv',
  'text/plain',
  'text/rtf',
  'text/xml',
  'application/json',
  'application/pdf',
  'application/xml',
  'application/zip',
  'application/x-7z-compressed',
  'application/vnd.rar',
  'application/x-tar',
  'application/msword',
  'application/vnd.ms-excel',
  'application/vnd.ms-powerpoint',
  'application/rtf',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/x-pkcs12',
  'application/pkcs12',
]);

export interface AccountRecord {
  id: number;
  name: string;
  status: AccountStatus;
  nextDisplayId: number;
  createdAt: number;
}

export interface MembershipRecord {
  accountId: number;
  role: Role;
  activeAt: number | null;
}

export interface UserRecord {
  id: number;
  name: string;
  displayName: string | null;
  email: string;
  token: string;
  pubsubToken: string;
  memberships: MembershipRecord[];
}

export interface AgentBotRecord {
  id: number;
  name: string;
  token: string;
  accountId: number | null;
  inboxIds: Set<number>;
}

export interface InboxRecord {
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
  agentReplyTimeWindowHours: number | null;
  memberIds: Set<number>;
  secret: string;
  identifier: string;
  createdAt: number;
}

export interface ContactRecord {
  id: number;
  accountId: number;
  name: string;
  email: string | null;
  phoneNumber: string | null;
  identifier: string | null;
  blocked: boolean;
  additionalAttributes: Record<string, unknown>;
  customAttributes: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  lastActivityAt: number | null;
}

export interface ContactInboxRecord {
  id: number;
  contactId: number;
  inboxId: number;
  sourceId: string;
  hmacVerified: boolean;
  createdAt: number;
}

export interface ConversationRecord {
  dbId: number;
  displayId: number;
  accountId: number;
  inboxId: number;
  contactId: number;
  contactInboxId: number;
  uuid: string;
  status: ConversationStatus;
  assigneeId: number | null;
  labels: string[];
  additionalAttributes: Record<string, unknown>;
  customAttributes: Record<string, unknown>;
  snoozedUntil: number | null;
  priority: 'low' | 'medium' | 'high' | 'urgent' | null;
  createdAt: number;
  updatedAt: number;
  lastActivityAt: number;
  agentLastSeenAt: number | null;
  assigneeLastSeenAt: number | null;
  contactLastSeenAt: number | null;
  firstReplyCreatedAt: number | null;
  waitingSince: number | null;
  muted: boolean;
}

export interface AttachmentRecord {
  id: number;
  messageId: number;
  accountId: number;
  fileType: 'image' | 'audio' | 'video' | 'file';
  filename: string;
  contentType: string;
  byteSize: number;
  extension: string | null;
  isVoiceMessage: boolean;
}

export interface MessageRecord {
  id: number;
  accountId: number;
  inboxId: number;
  conversationDbId: number;
  messageType: 0 | 1 | 2 | 3;
  contentType: string;
  content: string | null;
  private: boolean;
  status: MessageStatus;
  sourceId: string | null;
  contentAttributes: Record<string, unknown>;
  additionalAttributes: Record<string, unknown>;
  sender: { type: 'User' | 'Contact' | 'AgentBot'; id: number } | null;
  attachments: AttachmentRecord[];
  createdAt: number;
  updatedAt: number;
  statusHistory: Array<{ status: MessageStatus; at: number }>;
}

export type Actor = { kind: 'user'; user: UserRecord } | { kind: 'agent_bot'; bot: AgentBotRecord };

export interface InboxInitRecord {
  accountId: number;
  name: string;
  channelType: ChannelType;
  medium?: 'whatsapp' | 'sms' | undefined;
  provider?: 'whatsapp_cloud' | 'default' | undefined;
  phoneNumber?: string | undefined;
  lockToSingleConversation?: boolean | undefined;
  messageTemplates?: MessageTemplate[] | undefined;
  agentReplyTimeWindowHours?: number | undefined;
  memberIds?: number[] | undefined;
}

export interface ConversationInitRecord {
  status?: ConversationStatus | undefined;
  assigneeId?: number | null | undefined;
  labels?: string[] | undefined;
  additionalAttributes?: Record<string, unknown> | undefined;
  customAttributes?: Record<string, unknown> | undefined;
  snoozedUntil?: number | null | undefined;
  at?: number | undefined;
}

export interface SeedMessageInit {
  messageType: 0 | 1 | 2 | 3;
  content: string | null;
  at?: number | undefined;
  status?: MessageStatus | undefined;
  sourceId?: string | null | undefined;
  private?: boolean | undefined;
  externalError?: string | undefined;
  additionalAttributes?: Record<string, unknown> | undefined;
}

/** The Chatwoot data model and the Rails model rules the API relies on. */
export class ChatwootStore {
  readonly accounts = new Map<number, AccountRecord>();
  readonly users = new Map<number, UserRecord>();
  readonly bots = new Map<number, AgentBotRecord>();
  readonly inboxes = new Map<number, InboxRecord>();
  readonly contacts = new Map<number, ContactRecord>();
  readonly contactInboxes = new Map<number, ContactInboxRecord>();
  readonly conversations = new Map<number, ConversationRecord>();
  readonly messages = new Map<number, MessageRecord>();
  /** Per-conversation messages in `created_at, id` order (Message's default scope). */
  private readonly messagesByConversation = new Map<number, MessageRecord[]>();
  readonly events = new EventEmitter<FakeChatwootEvents>();
  readonly now: () => number;
  /** Called after a message is committed, like `Message#send_reply` enqueueing SendReplyJob. */
  onSendReply: ((message: MessageRecord) => void) | undefined;

  private readonly sequences = {
    user: 1,
    bot: 1,
    inbox: 1,
    contact: 101,
    contactInbox: 201,
    conversation: 501,
    message: 1001,
    attachment: 1,
  };
  private readonly channelSequences = new Map<ChannelType, number>();
  private tx: { undo: Array<() => void>; after: Array<() => void> } | null = null;

  constructor(now: () => number) {
    this.now = now;
  }

  /** Runs `work` like an ActiveRecord transaction: rows created inside are removed and commit callbacks dropped on error. */
  transaction<T>(work: () => T): T {
    if (this.tx) return work();
    const tx: { undo: Array<() => void>; after: Array<() => void> } = { undo: [], after: [] };
    this.tx = tx;
    try {
      const result = work();
      this.tx = null;
      for (const callback of tx.after) callback();
      return result;
    } catch (error) {
      this.tx = null;
      for (const undo of tx.undo.reverse()) undo();
      throw error;
    }
  }

  private afterCommit(callback: () => void): void {
    if (this.tx) this.tx.after.push(callback);
    else callback();
  }

  private onRollback(undo: () => void): void {
    this.tx?.undo.push(undo);
  }

  // ---- accounts, users, bots, inboxes

  addAccount(id: number | undefined, name: string, status: AccountStatus): AccountRecord {
    const accountId = id ?? Math.max(0, ...this.accounts.keys()) + 1;
    if (this.accounts.has(accountId)) throw new Error(`account ${accountId} already exists`);
    const account: AccountRecord = { id: accountId, name, status, nextDisplayId: 1, createdAt: this.now() };
    this.accounts.set(accountId, account);
    return account;
  }

  addUser(init: { id?: number | undefined; name: string; email?: string | undefined; token?: string | undefined }) {
    const id = init.id ?? Math.max(this.sequences.user - 1, ...this.users.keys()) + 1;
    if (this.users.has(id)) throw new Error(`user ${id} already exists`);
    this.sequences.user = Math.max(this.sequences.user, id + 1);
    const token = init.token ?? `user-token-${id}-${randomBytes(6).toString('hex')}`;
    this.assertTokenFree(token);
    const user: UserRecord = {
      id,
      name: init.name,
      displayName: null,
      email: init.email ?? `user${id}@example.com`,
      token,
      pubsubToken: randomBytes(12).toString('base64url'),
      memberships: [],
    };
    this.users.set(id, user);
    return user;
  }

  addMembership(userId: number, accountId: number, role: Role): void {
    const user = this.requireUser(userId);
    this.requireAccount(accountId);
    const existing = user.memberships.find((m) => m.accountId === accountId);
    if (existing) existing.role = role;
    else user.memberships.push({ accountId, role, activeAt: user.memberships.length === 0 ? this.now() : null });
  }

  addBot(init: {
    name: string;
    accountId: number | null;
    token?: string | undefined;
    inboxIds?: number[] | undefined;
  }) {
    const id = this.sequences.bot++;
    const token = init.token ?? `bot-token-${id}-${randomBytes(6).toString('hex')}`;
    this.assertTokenFree(token);
    const bot: AgentBotRecord = {
      id,
      name: init.name,
      token,
      accountId: init.accountId,
      inboxIds: new Set(init.inboxIds ?? []),
    };
    this.bots.set(id, bot);
    return bot;
  }

  addInbox(init: InboxInitRecord): InboxRecord {
    this.requireAccount(init.accountId);
    const channelId = (this.channelSequences.get(init.channelType) ?? 0) + 1;
    this.channelSequences.set(init.channelType, channelId);
    const isWhatsapp = init.channelType === 'Channel::Whatsapp';
    const isTwilio = init.channelType === 'Channel::TwilioSms';
    const inbox: InboxRecord = {
      id: this.sequences.inbox++,
      accountId: init.accountId,
      name: init.name,
      channelType: init.channelType,
      channelId,
      medium: isTwilio ? (init.medium ?? 'sms') : null,
      provider: isWhatsapp ? (init.provider ?? 'whatsapp_cloud') : null,
      phoneNumber: init.phoneNumber ?? (isWhatsapp || isTwilio ? '+15550000000' : null),
      lockToSingleConversation: init.lockToSingleConversation ?? false,
      messageTemplates: cloneJson(init.messageTemplates ?? []),
      agentReplyTimeWindowHours: init.agentReplyTimeWindowHours ?? null,
      memberIds: new Set(init.memberIds ?? []),
      secret: randomBytes(12).toString('hex'),
      identifier: randomBytes(12).toString('base64url'),
      createdAt: this.now(),
    };
    this.inboxes.set(inbox.id, inbox);
    return inbox;
  }

  private assertTokenFree(token: string): void {
    if (this.findTokenOwner(token)) throw new Error(`token ${token} is already in use`);
  }

  findTokenOwner(token: string): Actor | undefined {
    for (const user of this.users.values()) if (user.token === token) return { kind: 'user', user };
    for (const bot of this.bots.values()) if (bot.token === token) return { kind: 'agent_bot', bot };
    return undefined;
  }

  requireAccount(id: number): AccountRecord {
    const account = this.accounts.get(id);
    if (!account) throw new Error(`no account ${id}`);
    return account;
  }

  requireUser(id: number): UserRecord {
    const user = this.users.get(id);
    if (!user) throw new Error(`no user ${id}`);
    return user;
  }

  requireInbox(id: number): InboxRecord {
    const inbox = this.inboxes.get(id);
    if (!inbox) throw new Error(`no inbox ${id}`);
    return inbox;
  }

  requireContact(id: number): ContactRecord {
    const contact = this.contacts.get(id);
    if (!contact) throw new Error(`no contact ${id}`);
    return contact;
  }

  membership(user: UserRecord, accountId: number): MembershipRecord | undefined {
    return user.memberships.find((m) => m.accountId === accountId);
  }

  /** `User#assigned_inboxes`: every inbox for administrators, member inboxes for agents. */
  assignedInboxes(user: UserRecord, accountId: number): InboxRecord[] {
    const role = this.membership(user, accountId)?.role;
    return [...this.inboxes.values()].filter(
      (inbox) => inbox.accountId === accountId && (role === 'administrator' || inbox.memberIds.has(user.id)),
    );
  }

  /** ConversationPolicy#show? */
  authorizeConversation(actor: Actor, conversation: ConversationRecord): void {
    if (actor.kind === 'agent_bot') return;
    const role = this.membership(actor.user, conversation.accountId)?.role;
    if (role === 'administrator') return;
    if (this.requireInbox(conversation.inboxId).memberIds.has(actor.user.id)) return;
    throw new NotAuthorized();
  }

  /** InboxPolicy#show? */
  authorizeInbox(actor: Actor, inbox: InboxRecord): void {
    if (actor.kind === 'agent_bot') return;
    if (this.assignedInboxes(actor.user, inbox.accountId).includes(inbox)) return;
    throw new NotAuthorized();
  }

  inboxHasActiveBot(inbox: InboxRecord): boolean {
    return [...this.bots.values()].some((bot) => bot.inboxIds.has(inbox.id));
  }

  // ---- contacts and contact inboxes

  createContact(accountId: number, init: FakeContactInit): ContactRecord {
    this.requireAccount(accountId);
    const email = present(init.email) ? (init.email ?? '').toLowerCase() : null;
    const candidate = {
      email,
      identifier: init.identifier ?? null,
      phoneNumber: init.phoneNumber ?? null,
    };
    const errors = this.contactErrors(accountId, candidate);
    if (errors.length > 0) throw new RecordInvalid(errors);
    const at = this.now();
    const contact: ContactRecord = {
      id: this.sequences.contact++,
      accountId,
      name: init.name ?? '',
      email,
      phoneNumber: candidate.phoneNumber,
      identifier: candidate.identifier,
      blocked: init.blocked ?? false,
      additionalAttributes: cloneJson(init.additionalAttributes ?? {}),
      customAttributes: cloneJson(init.customAttributes ?? {}),
      createdAt: at,
      updatedAt: at,
      lastActivityAt: null,
    };
    this.contacts.set(contact.id, contact);
    this.onRollback(() => this.contacts.delete(contact.id));
    return contact;
  }

  /** Contact validations in declaration order (app/models/contact.rb). */
  private contactErrors(
    accountId: number,
    candidate: { email: string | null; identifier: string | null; phoneNumber: string | null },
  ): Array<[string, string]> {
    const errors: Array<[string, string]> = [];
    const others = [...this.contacts.values()].filter((c) => c.accountId === accountId);
    if (present(candidate.email)) {
      if (others.some((c) => c.email === candidate.email)) errors.push(['email', 'has already been taken']);
      if (!EMAIL.test(candidate.email ?? '')) errors.push(['email', 'Invalid email']);
    }
    if (present(candidate.identifier) && others.some((c) => c.identifier === candidate.identifier)) {
      errors.push(['identifier', 'has already been taken']);
    }
    if (present(candidate.phoneNumber)) {
      if (others.some((c) => c.phoneNumber === candidate.phoneNumber)) {
        errors.push(['phone_number', 'has already been taken']);
      }
      if (!E164.test(candidate.phoneNumber ?? '')) errors.push(['phone_number', 'should be in e164 format']);
    }
    return errors;
  }

  contactInboxesOf(contact: ContactRecord): ContactInboxRecord[] {
    return [...this.contactInboxes.values()].filter((ci) => ci.contactId === contact.id);
  }

  /** ContactInboxBuilder#perform: find or create; the source_id is generated per channel when not given. */
  buildContactInbox(contact: ContactRecord, inbox: InboxRecord, sourceId: string | null): ContactInboxRecord | null {
    const resolved = sourceId ?? this.generateSourceId(contact, inbox);
    if (!present(resolved)) return null;
    const existing = [...this.contactInboxes.values()].find(
      (ci) => ci.contactId === contact.id && ci.inboxId === inbox.id && ci.sourceId === resolved,
    );
    if (existing) return existing;
    const formatError = this.sourceIdFormatError(inbox, resolved);
    if (formatError) throw new RecordInvalid([['source_id', formatError]]);
    const conflict = [...this.contactInboxes.values()].find(
      (ci) => ci.inboxId === inbox.id && ci.sourceId === resolved,
    );
    if (conflict) {
      // ContactInboxBuilder#update_old_contact_inbox renames the old row; WhatsApp/Twilio names fail validation.
      const renamed =
        inbox.channelType === 'Channel::Whatsapp' || inbox.channelType === 'Channel::TwilioSms'
          ? `whatsapp:${resolved}${Math.floor(Math.random() * 100)}`
          : `${Math.floor(Math.random() * 10)}${resolved}`;
      const renameError = this.sourceIdFormatError(inbox, renamed);
      if (renameError) throw new RecordInvalid([['source_id', renameError]]);
      const previous = conflict.sourceId;
      conflict.sourceId = renamed;
      this.onRollback(() => {
        conflict.sourceId = previous;
      });
    }
    const contactInbox: ContactInboxRecord = {
      id: this.sequences.contactInbox++,
      contactId: contact.id,
      inboxId: inbox.id,
      sourceId: resolved,
      hmacVerified: false,
      createdAt: this.now(),
    };
    this.contactInboxes.set(contactInbox.id, contactInbox);
    this.onRollback(() => this.contactInboxes.delete(contactInbox.id));
    return contactInbox;
  }

  private generateSourceId(contact: ContactRecord, inbox: InboxRecord): string {
    switch (inbox.channelType) {
      case 'Channel::TwilioSms':
        if (contact.phoneNumber === null) throw new ParameterMissing('contact phone number');
        return inbox.medium === 'whatsapp' ? `whatsapp:${contact.phoneNumber}` : contact.phoneNumber;
      case 'Channel::Whatsapp':
        if (contact.phoneNumber === null) throw new ParameterMissing('contact phone number');
        return contact.phoneNumber.replaceAll('+', '');
      case 'Channel::Email':
        if (contact.email === null) throw new ParameterMissing('contact email');
        return contact.email;
      case 'Channel::Sms':
        if (contact.phoneNumber === null) throw new ParameterMissing('contact phone number');
        return contact.phoneNumber;
      case 'Channel::Api':
      case 'Channel::WebWidget':
        return randomUUID();
      default:
        throw new UnhandledError(`Unsupported operation for this channel: ${inbox.channelType}`);
    }
  }

  private sourceIdFormatError(inbox: InboxRecord, sourceId: string): string | null {
    if (inbox.channelType === 'Channel::Whatsapp' && !WHATSAPP_SOURCE_ID.test(sourceId)) {
      return `invalid source id for whatsapp inbox. valid Regex ${RUBY_WHATSAPP_REGEX}`;
    }
    if (inbox.channelType === 'Channel::TwilioSms') {
      if (inbox.medium === 'sms' && !TWILIO_SMS_SOURCE_ID.test(sourceId)) {
        return `invalid source id for twilio sms inbox. valid Regex ${RUBY_TWILIO_SMS_REGEX}`;
      }
      if (inbox.medium === 'whatsapp' && !TWILIO_WHATSAPP_SOURCE_ID.test(sourceId)) {
        return `invalid source id for twilio whatsapp inbox. valid Regex ${RUBY_TWILIO_WHATSAPP_REGEX}`;
      }
    }
    return null;
  }

  // ---- conversations

  findConversation(accountId: number, displayId: unknown): ConversationRecord {
    const id = castInteger(displayId);
    const found = [...this.conversations.values()].find((c) => c.accountId === accountId && c.displayId === id);
    if (!found) throw new RecordNotFound();
    return found;
  }

  /** Display ids come from a Postgres sequence: a rolled-back create still consumes one. */
  nextDisplayId(accountId: number): number {
    const account = this.requireAccount(accountId);
    const id = account.nextDisplayId;
    account.nextDisplayId += 1;
    return id;
  }

  createConversation(contactInbox: ContactInboxRecord, init: ConversationInitRecord) {
    const inbox = this.requireInbox(contactInbox.inboxId);
    const contact = this.requireContact(contactInbox.contactId);
    const at = init.at ?? this.now();
    let status: ConversationStatus = init.status ?? 'open';
    if (contact.blocked) status = 'resolved';
    else if (this.inboxHasActiveBot(inbox)) status = 'pending';
    const conversation: ConversationRecord = {
      dbId: this.sequences.conversation++,
      displayId: this.nextDisplayId(inbox.accountId),
      accountId: inbox.accountId,
      inboxId: inbox.id,
      contactId: contact.id,
      contactInboxId: contactInbox.id,
      uuid: randomUUID(),
      status,
      assigneeId: init.assigneeId ?? null,
      labels: [...(init.labels ?? [])],
      additionalAttributes: cloneJson(init.additionalAttributes ?? {}),
      customAttributes: cloneJson(init.customAttributes ?? {}),
      snoozedUntil: status === 'snoozed' ? (init.snoozedUntil ?? null) : null,
      priority: null,
      createdAt: at,
      updatedAt: at,
      lastActivityAt: at,
      agentLastSeenAt: null,
      assigneeLastSeenAt: null,
      contactLastSeenAt: null,
      firstReplyCreatedAt: null,
      waitingSince: at,
      muted: false,
    };
    this.conversations.set(conversation.dbId, conversation);
    this.onRollback(() => this.conversations.delete(conversation.dbId));
    this.afterCommit(() =>
      this.emit('conversation_created', () => ({ conversation: this.toFakeConversation(conversation) })),
    );
    return conversation;
  }

  setConversationStatus(conversation: ConversationRecord, status: ConversationStatus, snoozedUntil?: number | null) {
    const previousStatus = conversation.status;
    conversation.status = status;
    if (snoozedUntil !== undefined) conversation.snoozedUntil = snoozedUntil;
    if (status !== 'snoozed') conversation.snoozedUntil = null;
    conversation.updatedAt = this.now();
    if (previousStatus !== status) {
      this.emit('conversation_status_changed', () => ({
        conversation: this.toFakeConversation(conversation),
        previousStatus,
      }));
    }
  }

  conversationMessages(conversation: ConversationRecord): readonly MessageRecord[] {
    return this.messagesByConversation.get(conversation.dbId) ?? [];
  }

  /** Conversations::MessageWindowService#can_reply? */
  canReply(conversation: ConversationRecord): boolean {
    const inbox = this.requireInbox(conversation.inboxId);
    const window = this.messagingWindowMs(inbox);
    if (window === null) return true;
    const lastIncoming = this.conversationMessages(conversation)
      .filter((m) => m.messageType === 0)
      .at(-1);
    if (!lastIncoming) return false;
    return this.now() < lastIncoming.createdAt + window;
  }

  private messagingWindowMs(inbox: InboxRecord): number | null {
    switch (inbox.channelType) {
      case 'Channel::Api':
        return inbox.agentReplyTimeWindowHours === null ? null : inbox.agentReplyTimeWindowHours * 60 * 60 * 1000;
      case 'Channel::FacebookPage':
      case 'Channel::Instagram':
      case 'Channel::Whatsapp':
        return DAY_MS;
      case 'Channel::Tiktok':
        return 2 * DAY_MS;
      case 'Channel::TwilioSms':
        return inbox.medium === 'whatsapp' ? DAY_MS : null;
      default:
        return null;
    }
  }

  /** `unread_incoming_messages.count`: incoming messages after agent_last_seen_at, at most 10. */
  unreadCount(conversation: ConversationRecord): number {
    const since = conversation.agentLastSeenAt;
    const unread = this.conversationMessages(conversation).filter(
      (m) => m.messageType === 0 && (since === null || m.createdAt > since),
    );
    return Math.min(unread.length, 10);
  }

  // ---- messages

  /** Messages::MessageBuilder#perform plus the Message model validations and callbacks. */
  buildMessage(conversation: ConversationRecord, params: ParamHash, actor: Actor | null): MessageRecord {
    const inbox = this.requireInbox(conversation.inboxId);
    const given = params['message_type'];
    const rawType: ParamValue = given === undefined || given === null || given === false ? 'outgoing' : given;
    if (inbox.channelType !== 'Channel::Api' && rawType === 'incoming') {
      throw new Error('Incoming messages are only allowed in Api inboxes');
    }
    const contentAttributes = this.contentAttributesParam(params);
    const messageType = enumValue(rawType, MESSAGE_TYPES, 'message_type');
    if (messageType === null) {
      throw new Error(
        'PG::NotNullViolation: ERROR:  null value in column "message_type" of relation "messages" violates not-null constraint',
      );
    }
    const contentType =
      params['content_type'] === undefined || params['content_type'] === null
        ? 'text'
        : (CONTENT_TYPES[enumValue(params['content_type'], CONTENT_TYPES, 'content_type') ?? 0] ?? 'text');
    const sender = rawType === 'outgoing' ? (this.messageSender(conversation, params) ?? actorSender(actor)) : null;
    const contact = this.requireContact(conversation.contactId);

    let additionalAttributes: Record<string, unknown> = {};
    if (present(params['campaign_id'])) additionalAttributes = { campaign_id: plain(params['campaign_id'] ?? null) };
    if (present(params['template_params']))
      additionalAttributes = { template_params: plain(params['template_params'] ?? null) };
    let attributes = contentAttributes;
    if (present(contentAttributes['automation_rule_id'])) {
      attributes = { automation_rule_id: contentAttributes['automation_rule_id'] };
    }
    if (present(params['external_created_at']))
      attributes['external_created_at'] = plain(params['external_created_at'] ?? null);

    const at = this.now();
    const message: MessageRecord = {
      id: 0,
      accountId: conversation.accountId,
      inboxId: conversation.inboxId,
      conversationDbId: conversation.dbId,
      messageType: messageType as MessageRecord['messageType'],
      contentType,
      content: castText(params['content']),
      private: castBoolean(params['private'] ?? false) ?? false,
      status: 'sent',
      sourceId: castText(params['source_id']),
      contentAttributes: attributes,
      additionalAttributes,
      sender: sender ?? { type: 'Contact', id: contact.id },
      attachments: this.buildAttachments(params, inbox),
      createdAt: at,
      updatedAt: at,
      statusHistory: [{ status: 'sent', at }],
    };
    const voice = castBoolean(params['is_voice_message']) === true;
    for (const attachment of message.attachments) attachment.isVoiceMessage = voice && attachment.fileType === 'audio';

    const errors = this.messageErrors(conversation, message, inbox);
    if (errors.length > 0) throw new RecordInvalid(errors);
    this.resolveInReplyTo(conversation, message);
    return this.commitMessage(conversation, message, true);
  }

  private contentAttributesParam(params: ParamHash): Record<string, unknown> {
    const raw = params['content_attributes'];
    if (typeof raw === 'string') {
      try {
        const parsed: unknown = JSON.parse(raw);
        return isRecord(parsed) ? parsed : {};
      } catch {
        return {};
      }
    }
    return isParamHash(raw) ? (plain(raw) as Record<string, unknown>) : {};
  }

  private messageSender(conversation: ConversationRecord, params: ParamHash): MessageRecord['sender'] | undefined {
    if (params['sender_type'] !== 'AgentBot') return undefined;
    const id = castInteger(params['sender_id']);
    const bot = [...this.bots.values()].find(
      (b) => b.id === id && (b.accountId === null || b.accountId === conversation.accountId),
    );
    return bot ? { type: 'AgentBot', id: bot.id } : undefined;
  }

  private buildAttachments(params: ParamHash, inbox: InboxRecord): AttachmentRecord[] {
    const raw = params['attachments'];
    if (!present(raw)) return [];
    if (raw instanceof UploadedFile) {
      throw new Error("undefined method 'each' for an instance of ActionDispatch::Http::UploadedFile");
    }
    const list = Array.isArray(raw) ? raw : isParamHash(raw) ? Object.values(raw) : [raw];
    return list.map((file) => {
      if (!(file instanceof UploadedFile)) throw new Error('ActiveSupport::MessageVerifier::InvalidSignature');
      const dot = file.filename.lastIndexOf('.');
      return {
        id: 0,
        messageId: 0,
        accountId: inbox.accountId,
        fileType: fileType(file.contentType),
        filename: file.filename,
        contentType: file.contentType,
        byteSize: file.size,
        extension: dot > 0 ? file.filename.slice(dot + 1) : null,
        isVoiceMessage: false,
      };
    });
  }

  /** Message validations, in the order Rails runs them (before_validation first, associations last). */
  private messageErrors(conversation: ConversationRecord, message: MessageRecord, inbox: InboxRecord) {
    const errors: Array<[string, string]> = [];
    const windowStart = this.now() - 60_000;
    const recent = this.conversationMessages(conversation).filter((m) => m.createdAt >= windowStart).length;
    if (recent >= MESSAGES_PER_MINUTE_LIMIT) errors.push(['base', 'Too many messages']);
    if (message.contentType === 'input_select') errors.push(...selectItemErrors(message.contentAttributes['items']));
    errors.push(...templateParamsErrors(message.additionalAttributes));
    if (message.content !== null && charLength(message.content) > MAX_CONTENT_LENGTH) {
      errors.push(['content', `is too long (maximum is ${MAX_CONTENT_LENGTH} characters)`]);
    }
    if (inbox.channelType === 'Channel::WebWidget') {
      for (const attachment of message.attachments) {
        if (attachment.byteSize > MAX_UPLOAD_BYTES) errors.push(['attachments.file', 'size is too big']);
        const type = attachment.contentType;
        if (!/^(image|video|audio)\//.test(type) && !ACCEPTABLE_FILE_TYPES.has(type)) {
          const generic = type === '' || type === 'application/octet-stream';
          if (!(generic && ['pfx', 'xml'].includes(attachment.extension ?? ''))) {
            errors.push(['attachments.file', 'type not supported']);
          }
        }
      }
    }
    return errors;
  }

  /** Messages::InReplyToMessageBuilder (before_save). */
  private resolveInReplyTo(conversation: ConversationRecord, message: MessageRecord): void {
    const attributes = message.contentAttributes;
    const inReplyTo = attributes['in_reply_to'];
    const externalId = attributes['in_reply_to_external_id'];
    if (!present(inReplyTo) && !present(externalId)) return;
    const candidates = this.conversationMessages(conversation);
    let target: MessageRecord | undefined;
    if (present(inReplyTo)) {
      const id = castInteger(inReplyTo);
      target = candidates.find((m) => m.id === id);
    } else if (externalId !== undefined && externalId !== null) {
      target = candidates.find((m) => m.sourceId === externalId);
    }
    attributes['in_reply_to_external_id'] = target?.sourceId ?? null;
    attributes['in_reply_to'] = target?.id ?? null;
  }

  /** Seeds a message without the API (incoming customer messages, or history). Never delivered. */
  seedMessage(conversation: ConversationRecord, init: SeedMessageInit): MessageRecord {
    const at = init.at ?? this.now();
    const contact = this.requireContact(conversation.contactId);
    const status = init.status ?? 'sent';
    const message: MessageRecord = {
      id: 0,
      accountId: conversation.accountId,
      inboxId: conversation.inboxId,
      conversationDbId: conversation.dbId,
      messageType: init.messageType,
      contentType: 'text',
      content: init.content,
      private: init.private ?? false,
      status,
      sourceId: init.sourceId ?? null,
      contentAttributes: init.externalError === undefined ? {} : { external_error: init.externalError },
      additionalAttributes: cloneJson(init.additionalAttributes ?? {}),
      sender:
        init.messageType === 0 ? { type: 'Contact', id: contact.id } : this.firstAccountUser(conversation.accountId),
      attachments: [],
      createdAt: at,
      updatedAt: at,
      statusHistory: [{ status, at }],
    };
    return this.commitMessage(conversation, message, false);
  }

  private firstAccountUser(accountId: number): MessageRecord['sender'] {
    const user = [...this.users.values()].find((u) => this.membership(u, accountId));
    return user ? { type: 'User', id: user.id } : null;
  }

  /** Insert plus Message#execute_after_create_commit_callbacks. */
  private commitMessage(conversation: ConversationRecord, message: MessageRecord, deliver: boolean): MessageRecord {
    message.id = this.sequences.message++;
    for (const attachment of message.attachments) {
      attachment.id = this.sequences.attachment++;
      attachment.messageId = message.id;
    }
    this.messages.set(message.id, message);
    const siblings = this.messagesByConversation.get(conversation.dbId) ?? [];
    this.messagesByConversation.set(conversation.dbId, siblings);
    const previous = siblings.at(-1);
    siblings.push(message);
    if (previous && previous.createdAt > message.createdAt) {
      siblings.sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
    }
    this.onRollback(() => {
      this.messages.delete(message.id);
      siblings.splice(siblings.indexOf(message), 1);
    });
    const inbox = this.requireInbox(conversation.inboxId);

    if (message.messageType === 0 && !conversation.muted) {
      if (conversation.status === 'snoozed') this.setConversationStatus(conversation, 'open');
      if (conversation.status === 'resolved') {
        this.setConversationStatus(conversation, this.inboxHasActiveBot(inbox) ? 'pending' : 'open');
      }
    }
    conversation.lastActivityAt = message.createdAt;
    conversation.updatedAt = this.now();

    this.updateReplyTracking(conversation, message);
    this.afterCommit(() => {
      this.emit('message_created', () => ({
        message: this.toFakeMessage(message),
        conversation: this.toFakeConversation(conversation),
      }));
      if (deliver) this.onSendReply?.(message);
    });
    if (message.sender?.type === 'Contact') {
      const contact = this.contacts.get(message.sender.id);
      if (contact) contact.lastActivityAt = this.now();
    }
    return message;
  }

  /** Message#valid_first_reply? and #update_waiting_since. */
  private updateReplyTracking(conversation: ConversationRecord, message: MessageRecord): void {
    const outgoing = message.messageType === 1;
    const human =
      outgoing &&
      !present(message.contentAttributes['automation_rule_id']) &&
      !present(message.additionalAttributes['campaign_id']) &&
      (message.sender?.type === 'User' || present(message.contentAttributes['external_echo']));
    const humanReplies = this.conversationMessages(conversation).filter(
      (m) =>
        m.messageType === 1 &&
        m.sender?.type !== 'AgentBot' &&
        !m.private &&
        !present(m.additionalAttributes['campaign_id']),
    ).length;
    if (human && !message.private && conversation.firstReplyCreatedAt === null && humanReplies <= 1) {
      conversation.firstReplyCreatedAt = message.createdAt;
      conversation.waitingSince = null;
      return;
    }
    if (conversation.waitingSince !== null && !message.private) {
      if (human || (outgoing && message.sender?.type === 'AgentBot')) conversation.waitingSince = null;
    }
    if (message.messageType === 0 && conversation.waitingSince === null) conversation.waitingSince = message.createdAt;
  }

  /** `message.update!(source_id:)` after the provider accepted the send. */
  setSourceId(message: MessageRecord, sourceId: string): void {
    message.sourceId = sourceId;
    message.updatedAt = this.now();
    this.emitUpdated(message, ['source_id']);
  }

  /**
   * A status change as a provider status webhook applies it. `read → delivered` is refused
   * (Messages::StatusUpdateService#valid_status_transition?). Returns whether anything changed.
   */
  updateMessageStatus(message: MessageRecord, status: MessageStatus, externalError?: string): boolean {
    if (message.status === 'read' && status === 'delivered') return false;
    const changed: string[] = [];
    if (message.status !== status) {
      message.status = status;
      message.statusHistory.push({ status, at: this.now() });
      changed.push('status');
    }
    if (
      status === 'failed' &&
      externalError !== undefined &&
      message.contentAttributes['external_error'] !== externalError
    ) {
      message.contentAttributes['external_error'] = externalError;
      changed.push('content_attributes');
    }
    if (changed.length === 0) return false;
    message.updatedAt = this.now();
    this.emitUpdated(message, changed);
    return true;
  }

  private emitUpdated(message: MessageRecord, changed: string[]): void {
    const conversation = this.conversations.get(message.conversationDbId);
    if (!conversation) return;
    this.emit('message_updated', () => ({
      message: this.toFakeMessage(message),
      conversation: this.toFakeConversation(conversation),
      changed,
    }));
  }

  /** Builds the payload only when someone listens (snapshots are not free on large stores). */
  private emit<K extends keyof FakeChatwootEvents>(name: K, payload: () => FakeChatwootEvents[K][0]): void {
    if (this.events.listenerCount(name) === 0) return;
    const emit = this.events.emit.bind(this.events) as (event: K, data: FakeChatwootEvents[K][0]) => boolean;
    emit(name, payload());
  }

  // ---- snapshots for tests

  /** A snapshot of an inbox for the control API and delivery deciders: safe to keep and to change. */
  toFakeInbox(inbox: InboxRecord): FakeInbox {
    return {
      id: inbox.id,
      accountId: inbox.accountId,
      name: inbox.name,
      channelType: inbox.channelType,
      channelId: inbox.channelId,
      medium: inbox.medium,
      provider: inbox.provider,
      phoneNumber: inbox.phoneNumber,
      lockToSingleConversation: inbox.lockToSingleConversation,
      messageTemplates: structuredClone(inbox.messageTemplates),
      memberIds: [...inbox.memberIds],
    };
  }

  toFakeMessage(message: MessageRecord): FakeMessage {
    const conversation = this.conversations.get(message.conversationDbId);
    const externalError = message.contentAttributes['external_error'];
    const senderType = { User: 'user', Contact: 'contact', AgentBot: 'agent_bot' } as const;
    return {
      id: message.id,
      accountId: message.accountId,
      inboxId: message.inboxId,
      conversationId: conversation?.displayId ?? 0,
      messageType: MESSAGE_TYPES[message.messageType] ?? 'outgoing',
      contentType: message.contentType,
      content: message.content,
      private: message.private,
      status: message.status,
      sourceId: message.sourceId,
      externalError: typeof externalError === 'string' ? externalError : null,
      contentAttributes: cloneJson(message.contentAttributes),
      additionalAttributes: cloneJson(message.additionalAttributes),
      sender: message.sender ? { type: senderType[message.sender.type], id: message.sender.id } : null,
      attachments: message.attachments.map((a) => ({
        id: a.id,
        fileType: a.fileType,
        filename: a.filename,
        contentType: a.contentType,
        size: a.byteSize,
      })),
      createdAt: message.createdAt,
      statusHistory: message.statusHistory.map((entry) => ({ ...entry })),
    };
  }

  toFakeConversation(conversation: ConversationRecord): FakeConversation {
    return {
      id: conversation.displayId,
      accountId: conversation.accountId,
      inboxId: conversation.inboxId,
      contactId: conversation.contactId,
      contactInboxId: conversation.contactInboxId,
      sourceId: this.contactInboxes.get(conversation.contactInboxId)?.sourceId ?? '',
      status: conversation.status,
      assigneeId: conversation.assigneeId,
      labels: [...conversation.labels],
      canReply: this.canReply(conversation),
      createdAt: conversation.createdAt,
      lastActivityAt: conversation.lastActivityAt,
      snoozedUntil: conversation.snoozedUntil,
    };
  }
}

function actorSender(actor: Actor | null): MessageRecord['sender'] {
  if (actor === null) return null;
  return actor.kind === 'user' ? { type: 'User', id: actor.user.id } : { type: 'AgentBot', id: actor.bot.id };
}

/** Rails enum assignment: a name or an integer value, `''` → nil, anything else raises ArgumentError. */
function enumValue<T extends string>(value: ParamValue, names: readonly T[], attribute: string): number | null {
  if (typeof value === 'string') {
    const index = names.indexOf(value as T);
    if (index >= 0) return index;
    if (value === '') return null;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < names.length) return value;
  if (value === null) return null;
  const shown = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : '{}';
  throw new Error(`'${String(shown)}' is not a valid ${attribute}`);
}

function fileType(contentType: string): AttachmentRecord['fileType'] {
  if (IMAGE_TYPES.has(contentType)) return 'image';
  if (VIDEO_TYPES.has(contentType)) return 'video';
  if (contentType.includes('audio/')) return 'audio';
  return 'file';
}

/** Params converted to plain JSON data (`JSON.parse(params.to_json)`). */
function plain(value: ParamValue): unknown {
  if (value instanceof UploadedFile) return { filename: value.filename, content_type: value.contentType };
  return cloneJson(value);
}

function rubyClassName(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return 'an instance of String';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an instance of Integer' : 'an instance of Float';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return Array.isArray(value) ? 'an instance of Array' : 'an instance of Hash';
}

/** ContentAttributeValidator for `input_select`, including its NoMethodError on odd input. */
function selectItemErrors(items: unknown): Array<[string, string]> {
  const errors: Array<[string, string]> = [];
  if (!present(items)) errors.push(['content_attributes', 'At least one item is required.']);
  if (!Array.isArray(items) && !isRecord(items)) {
    throw new Error(`undefined method 'reject' for ${rubyClassName(items)}`);
  }
  const list = Array.isArray(items) ? items : Object.entries(items);
  if (list.some((item) => !isRecord(item))) errors.push(['content_attributes', 'Items should be a hash.']);
  const keys: string[] = [];
  for (const item of list) {
    if (!isRecord(item)) throw new Error(`undefined method 'keys' for ${rubyClassName(item)}`);
    keys.push(...Object.keys(item));
  }
  const invalid = keys.filter((key) => key !== 'title' && key !== 'value');
  if (invalid.length > 0) {
    errors.push([
      'content_attributes',
      `contains invalid keys for items : [${invalid.map((k) => `:${k}`).join(', ')}]`,
    ]);
  }
  return errors;
}

/** Message::TEMPLATE_PARAMS_SCHEMA through JsonSchemaValidator's message formatting. */
function templateParamsErrors(additionalAttributes: Record<string, unknown>): Array<[string, string]> {
  if (!('template_params' in additionalAttributes)) return [];
  const params = additionalAttributes['template_params'];
  if (!isRecord(params)) return [['template_params', 'must be of type hash']];
  const errors: Array<[string, string]> = [];
  for (const key of ['name', 'category', 'language', 'namespace']) {
    if (key in params && typeof params[key] !== 'string') {
      errors.push([`template_params/${key}`, 'must be of type string']);
    }
  }
  if ('processed_params' in params && !isRecord(params['processed_params'])) {
    errors.push(['template_params/processed_params', 'must be of type hash']);
  }
  if (!('name' in params)) errors.push(['name', 'is required']);
  return errors;
}
