import type { CallOptions, ChatwootClient } from '../chatwoot/client.ts';
import type { Inbox } from '../chatwoot/schemas.ts';
import type { Clock } from '../shared/clock.ts';
import { ResolveError } from './resolve-error.ts';

/** The channels the bridge can send to, with WhatsApp's per-message text limit on each. */
export type WhatsAppChannel = 'whatsapp' | 'twilio_whatsapp';

export const TEXT_LIMIT: Record<WhatsAppChannel, number> = { whatsapp: 4096, twilio_whatsapp: 1600 };

/** `Channel::Whatsapp` (Cloud API or 360dialog), or Twilio's WhatsApp (`Channel::TwilioSms` with medium whatsapp). */
export function whatsappChannelOf(inbox: Pick<Inbox, 'channel_type' | 'medium'>): WhatsAppChannel | undefined {
  if (inbox.channel_type === 'Channel::Whatsapp') return 'whatsapp';
  if (inbox.channel_type === 'Channel::TwilioSms' && inbox.medium === 'whatsapp') return 'twilio_whatsapp';
  return undefined;
}

export interface InboxDirectory {
  /** Any inbox of the account by id (for conversations referenced by id). */
  inbox(inboxId: number, options: CallOptions): Promise<Inbox>;
  /** The inbox phone numbers are looked up in: CHATWOOT_INBOX_ID, or the account's only WhatsApp inbox. */
  whatsappInbox(options: CallOptions): Promise<Inbox & { channel: WhatsAppChannel }>;
  /** Forget the cached list (e.g. after an inbox was added). */
  invalidate(): void;
}

export interface InboxDirectoryOptions {
  readonly client: ChatwootClient;
  readonly clock: Clock;
  /** CHATWOOT_INBOX_ID. */
  readonly inboxId: number | undefined;
  /** Inbox settings (like lock_to_single_conversation) rarely change; re-read after this long. */
  readonly ttlMs?: number;
}

/** Inboxes change rarely and are needed often: one list request serves every lookup until the TTL ends. */
export function createInboxDirectory(options: InboxDirectoryOptions): InboxDirectory {
  const { client, clock } = options;
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  let cached: { inboxes: Inbox[]; at: number } | undefined;
  let pending: Promise<Inbox[]> | undefined;

  const list = async (callOptions: CallOptions, fresh = false): Promise<Inbox[]> => {
    if (!fresh && cached !== undefined && clock.now() - cached.at < ttlMs) return cached.inboxes;
    pending ??= client.listInboxes(callOptions).then(
      (inboxes) => {
        cached = { inboxes, at: clock.now() };
        pending = undefined;
        return inboxes;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };

  const describe = (inbox: Inbox): string =>
    `${inbox.id} "${inbox.name}"${inbox.phone_number === undefined ? '' : ` (${inbox.phone_number})`}`;

  return {
    inbox: async (inboxId, callOptions) => {
      const found =
        (await list(callOptions)).find((inbox) => inbox.id === inboxId) ??
        (await list(callOptions, true)).find((inbox) => inbox.id === inboxId);
      if (found === undefined) {
        throw new ResolveError(
          'inbox_not_visible',
          `Inbox ${inboxId} is not visible to the bridge's Chatwoot user.`,
          'Agents only see inboxes they are members of: add the user to that inbox, or use an administrator’s token.',
        );
      }
      return found;
    },
    whatsappInbox: async (callOptions) => {
      const inboxes = await list(callOptions);
      if (options.inboxId !== undefined) {
        const inbox = inboxes.find((candidate) => candidate.id === options.inboxId);
        if (inbox === undefined) {
          throw new ResolveError(
            'inbox_not_visible',
            `CHATWOOT_INBOX_ID is ${options.inboxId}, but the bridge's Chatwoot user cannot see that inbox.`,
            'Check the id (Settings → Inboxes → the inbox’s URL) and add the user to the inbox as a collaborator.',
          );
        }
        const channel = whatsappChannelOf(inbox);
        if (channel === undefined) {
          throw new ResolveError(
            'not_whatsapp',
            `CHATWOOT_INBOX_ID ${describe(inbox)} is a ${inbox.channel_type} inbox, not WhatsApp.`,
            'Set CHATWOOT_INBOX_ID to your WhatsApp inbox, or leave it empty to use the only one.',
          );
        }
        return { ...inbox, channel };
      }
      const candidates = inboxes.flatMap((inbox) => {
        const channel = whatsappChannelOf(inbox);
        return channel === undefined ? [] : [{ ...inbox, channel }];
      });
      const native = candidates.filter((inbox) => inbox.channel === 'whatsapp');
      const pool = native.length > 0 ? native : candidates;
      const [only, ...others] = pool;
      if (only === undefined) {
        throw new ResolveError(
          'no_whatsapp_inbox',
          'The bridge found no WhatsApp inbox in this Chatwoot account.',
          'Create a WhatsApp inbox in Chatwoot, or add the bridge’s user to it (agents only see their inboxes).',
        );
      }
      if (others.length > 0) {
        throw new ResolveError(
          'inbox_ambiguous',
          `This Chatwoot account has ${pool.length} WhatsApp inboxes: ${pool.map(describe).join(', ')}.`,
          'Set CHATWOOT_INBOX_ID to the one phone numbers should be looked up in.',
        );
      }
      return only;
    },
    invalidate: () => {
      cached = undefined;
    },
  };
}
