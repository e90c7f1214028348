import type { App } from '@slack/bolt';
import type Keyv from 'keyv';
import { type Bridge, SubmitError } from '../bridge.ts';
import type { Config } from '../config/load-config.ts';
import { checkMedia } from '../delivery/media.ts';
import type { SendContent } from '../delivery/send-record.ts';
import type { Logger } from '../shared/logger.ts';
import { checkPermission, ENTRY_POINTS } from './entry-points.ts';
import type { SlackPoster } from './slack-poster.ts';
import type { ThreadReporter } from './thread-reporter.ts';

const FORWARDED_TTL_MS = 30 * 24 * 60 * 60_000;
/** The reaction that confirms a reply was taken for WhatsApp; its status line follows in the thread. */
export const FORWARDED_REACTION = 'outbox_tray';

/** What a thread reply asks for: nothing (team talk), a message to the customer, or a private note in Chatwoot. */
export type ReplyIntent = { kind: 'internal' } | { kind: 'text' | 'note'; text: string };

/**
 * A reply reaches the customer only when it addresses the app: it starts with an @mention of the bot or the configured
 * prefix. `note:` (after the mention, or alone) makes a private note in Chatwoot instead. Everything else is the team
 * talking among themselves.
 */
export function replyIntent(text: string, botUserId: string, prefix: string | undefined): ReplyIntent {
  let rest = text.trim();
  const mention = new RegExp(`^<@${botUserId}(?:\\|[^>]*)?>[\\s,:]*`);
  let addressed = false;
  if (mention.test(rest)) {
    rest = rest.replace(mention, '');
    addressed = true;
  } else if (prefix !== undefined && rest.toLowerCase().startsWith(prefix.toLowerCase())) {
    rest = rest.slice(prefix.length).trimStart();
    addressed = true;
  }
  const note = /^note:\s*/i.exec(rest);
  if (note !== null) {
    const body = rest.slice(note[0].length);
    return body.trim() === '' ? { kind: 'internal' } : { kind: 'note', text: body };
  }
  if (!addressed || rest.trim() === '') return { kind: 'internal' };
  return { kind: 'text', text: rest };
}

export interface ThreadRepliesDeps {
  readonly config: Pick<Config, 'slack'>;
  readonly bridge: Pick<Bridge, 'submit'>;
  readonly reporter: ThreadReporter;
  readonly poster: SlackPoster;
  readonly botUserId: string;
  /** `<channel>:<ts>` of each forwarded Slack message → its send id (to answer edits and deletions). */
  readonly forwarded: Keyv<string>;
  readonly logger: Logger;
}

interface MessageEventShape {
  readonly type: 'message';
  readonly subtype?: string;
  readonly channel: string;
  readonly user?: string;
  readonly bot_id?: string;
  readonly text?: string;
  readonly ts: string;
  readonly thread_ts?: string;
  readonly message?: {
    readonly ts?: string;
    readonly thread_ts?: string;
    readonly bot_id?: string;
    readonly user?: string;
  };
  readonly files?: ReadonlyArray<{
    readonly id?: string;
    readonly name?: string;
    readonly mimetype?: string;
    readonly size?: number;
    readonly url_private_download?: string;
    readonly url_private?: string;
  }>;
  readonly previous_message?: { readonly ts?: string; readonly thread_ts?: string };
}

/**
 * Replies typed in a send's thread (the bot must be in the channel to see them): the ones addressed to the app go to
 * the customer, confirmed with a reaction and then the usual status line; edits and deletions afterwards are answered
 * honestly, since WhatsApp messages cannot be changed. Bot messages and the app's own never loop.
 */
export function registerThreadReplies(app: App, deps: ThreadRepliesDeps): void {
  const { config, bridge, reporter, poster, botUserId, forwarded, logger } = deps;

  const sayInThread = (channel: string, threadTs: string, text: string) =>
    poster
      .post(channel, () => ({ text, thread_ts: threadTs }))
      .catch((error: unknown) => logger.warn({ err: error, channel }, 'could not answer in the thread'));

  app.event('message', async ({ event, client }) => {
    const message = event as unknown as MessageEventShape;
    if (message.subtype === 'message_changed' || message.subtype === 'message_deleted') {
      const target = message.subtype === 'message_changed' ? message.message : message.previous_message;
      if (target?.ts === undefined || message.message?.bot_id !== undefined) return;
      const sendId = await forwarded.get(`${message.channel}:${target.ts}`);
      if (sendId === undefined) return;
      await sayInThread(
        message.channel,
        target.thread_ts ?? target.ts,
        message.subtype === 'message_changed'
          ? ':pencil2: That reply was edited in Slack after it went to WhatsApp: the customer still has the first version (WhatsApp messages cannot be changed).'
          : ':wastebasket: That reply was deleted in Slack after it went to WhatsApp: it was not deleted for the customer.',
      );
      return;
    }
    // Plain messages only: no bot posts (ours included), joins, or other subtypes.
    if (message.subtype !== undefined && message.subtype !== 'file_share') return;
    if (message.bot_id !== undefined || message.user === undefined || message.user === botUserId) return;
    const threadTs = message.thread_ts;
    if (threadTs === undefined || threadTs === message.ts) return;
    const conversationId = await reporter.conversationOfThread(message.channel, threadTs);
    if (conversationId === undefined) return;
    const intent = replyIntent(message.text ?? '', botUserId, config.slack.replyPrefix);
    if (intent.kind === 'internal') return;

    const userId = message.user;
    const permission = checkPermission(config.slack, { userId, channelId: message.channel });
    if (!permission.ok) {
      await poster
        .ephemeral(message.channel, userId, () => ({ text: permission.message, thread_ts: threadTs }))
        .catch((error: unknown) => logger.warn({ err: error }, 'could not tell a user they may not send'));
      return;
    }
    // One message per file (WhatsApp takes one attachment each), the text as the first one's caption; all are
    // checked before anything is sent.
    const files = intent.kind === 'text' ? (message.files ?? []) : [];
    const contents: SendContent[] = [];
    const refused: string[] = [];
    for (const [index, file] of files.entries()) {
      const source = file.url_private_download ?? file.url_private;
      const candidate: SendContent = {
        kind: 'file',
        fileName: file.name ?? 'file',
        mimeType: file.mimetype ?? 'application/octet-stream',
        size: file.size ?? 0,
        source: source ?? '',
        ...(index === 0 && intent.text.trim() !== '' ? { caption: intent.text } : {}),
      };
      const media = source === undefined ? undefined : checkMedia(candidate);
      if (media === undefined || !media.ok)
        refused.push(media?.ok === false ? media.message : `${file.name ?? 'A file'} cannot be downloaded.`);
      contents.push(candidate);
    }
    if (refused.length > 0) {
      await sayInThread(
        message.channel,
        threadTs,
        `:x: <@${userId}>, nothing was sent: ${refused.join(' ')} WhatsApp takes JPEG/PNG images up to 5 MB, MP4 videos and MP3/AAC/OGG/AMR audio up to 16 MB, and PDF, Office or text documents up to 100 MB.`,
      );
      return;
    }
    if (contents.length === 0) contents.push({ kind: intent.kind, text: intent.text });

    const key = ENTRY_POINTS.threadReply.key({ channel: message.channel, ts: message.ts });
    let reacted = false;
    for (const [index, content] of contents.entries()) {
      let record: Awaited<ReturnType<Bridge['submit']>>['record'];
      try {
        const submitted = await bridge.submit({
          idempotencyKey: index === 0 ? key : `${key}:file:${index}`,
          reference: { kind: 'id', conversationId, looksLikePhone: false },
          content,
          requestedBy: { via: ENTRY_POINTS.threadReply.via, userId, channelId: message.channel },
        });
        if (submitted.duplicate) continue;
        record = submitted.record;
      } catch (error) {
        await sayInThread(
          message.channel,
          threadTs,
          `:x: <@${userId}>, ${error instanceof SubmitError ? error.message : 'your reply could not be stored, so nothing was sent. Try again.'}`,
        );
        return;
      }
      if (index === 0) await forwarded.set(`${message.channel}:${message.ts}`, record.id, FORWARDED_TTL_MS);
      if (!reacted) {
        reacted = true;
        await client.reactions
          .add({ channel: message.channel, timestamp: message.ts, name: FORWARDED_REACTION })
          .catch((error: unknown) => logger.debug({ err: error }, 'could not add the confirmation reaction'));
      }
      await reporter.openUnder(
        record,
        { channel: message.channel, threadTs, userId },
        intent.kind === 'note' ? `<@${userId}>: ` : `<@${userId}> → WhatsApp: `,
      );
    }
  });
}
