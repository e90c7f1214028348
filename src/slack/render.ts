import { escapeMrkdwn } from '../compose/slack-escape.ts';
import { describeRecipient, describeState } from '../delivery/describe-send.ts';
import type { SendRecord } from '../delivery/send-record.ts';
import type { SlackMessage } from './slack-poster.ts';

export { escapeMrkdwn };

export interface Links {
  /** The conversation in Chatwoot's dashboard. */
  conversation(conversationId: number): string;
  /** A Slack link to a message (a thread reply when `threadTs` is given), or undefined when unknown. */
  message(channel: string, ts: string, threadTs?: string): string | undefined;
}

/**
 * Mentions in quoted text are shown, never re-sent: `<!here>` would ping the whole channel and `<@U…>` its person
 * each time the bot posts or edits. They become plain text (`@here`, `@Jane Doe`); links stay links.
 */
export function defuseMentions(text: string, names: Readonly<Record<string, string>> = {}): string {
  return text.replace(/<([@#!])([^<>|]*)(?:\|([^<>]*))?>/g, (_token, sigil: string, id: string, label?: string) => {
    if (sigil === '#') return `#${label ?? names[id] ?? id}`;
    if (sigil === '@') return `@${names[id] ?? label ?? id}`;
    if (id.startsWith('subteam^')) return label?.startsWith('@') ? label : `@${label ?? names[id.slice(8)] ?? 'group'}`;
    if (id.startsWith('date^')) return label ?? id;
    return `@${id.split('^')[0]}`;
  });
}

/** The first lines of the text, quoted as it was written (it is Slack mrkdwn already, as Slack sent it). */
export function quoteText(text: string, maxLines = 4, maxChars = 600): string {
  const lines = text.split('\n');
  let shown = lines.slice(0, maxLines).join('\n');
  let cut = lines.length > maxLines;
  if (shown.length > maxChars) {
    shown = shown.slice(0, maxChars).replace(/\s+\S*$/, '');
    cut = true;
  }
  return `${shown
    .split('\n')
    .map((line) => `>${line === '' ? '' : ` ${line}`}`)
    .join('\n')}${cut ? '\n> …' : ''}`;
}

function recipient(record: SendRecord, links: Links): string {
  const conversation = record.conversation;
  if (conversation === undefined) return escapeMrkdwn(describeRecipient(record));
  const who = escapeMrkdwn(describeRecipient(record).replace(/ in conversation #\d+$/, ''));
  return `${who} · <${links.conversation(conversation.id)}|conversation #${conversation.id}>`;
}

/** The thread's root: who sent what to whom. Edited once the conversation is known (contact name, link). */
export function rootMessage(record: SendRecord, links: Links): SlackMessage {
  const who = record.requestedBy.userId === undefined ? 'Someone' : `<@${record.requestedBy.userId}>`;
  const content = record.content;
  const isNote = content.kind === 'note';
  const raw = 'text' in content ? content.text : content.kind === 'template' ? content.rendered : content.fileName;
  const text = defuseMentions(raw, 'names' in content ? (content.names ?? {}) : {});
  const headline = isNote
    ? `:memo: ${who} added a private note (not sent to WhatsApp) to ${recipient(record, links)}`
    : `:speech_balloon: ${who} → WhatsApp: ${recipient(record, links)}`;
  const body = `${headline}\n${quoteText(text)}`;
  return {
    text: body,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: body.slice(0, 3000) } }],
    unfurl_links: false,
    unfurl_media: false,
  };
}

const ICON: Record<SendRecord['state'], string> = {
  queued: ':hourglass_flowing_sand:',
  waiting: ':hourglass_flowing_sand:',
  accepted: ':outbox_tray:',
  sent: ':white_check_mark:',
  delivered: ':white_check_mark:',
  read: ':eyes:',
  failed: ':x:',
};

/** The status reply in the thread, edited in place as the send moves; the same words as everywhere else. */
export function statusMessage(record: SendRecord, now: number, prefix = ''): SlackMessage {
  const icon = record.content.kind === 'note' && record.state === 'accepted' ? ':memo:' : ICON[record.state];
  const text = `${icon} ${prefix}${escapeMrkdwn(describeState(record, now))}`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }] };
}

export const HELP_TEXT = [
  '*WhatsApp from Slack* — `/whatsapp <command>`',
  '• `/whatsapp send <conversation> <text>` — send a WhatsApp message; the result appears in a thread here.',
  '• `/whatsapp note <conversation> <text>` — add a private note to the Chatwoot conversation (the customer never sees it).',
  '• `/whatsapp template <conversation> <name> [lang=en_US] [1=… 2="…"]` — an approved WhatsApp template (also outside the 24-hour window, and to a number that never wrote) or a team snippet.',
  '• `/whatsapp templates [refresh]` — the approved templates with the values each needs, and the team snippets.',
  '• `/whatsapp find <phone|name|email>` — find customers and their conversations, with a Send button each.',
  '• `/whatsapp status <conversation>` — contact, inbox, status, the 24-hour window and our last messages.',
  '• `/whatsapp help` — this card. The *Send WhatsApp message* shortcut (and *Send to WhatsApp* on any message) opens a form.',
  '<conversation> is a conversation id (`57` or `#57`), a Chatwoot conversation link, or a phone number such as `+44 20 7946 0958`.',
].join('\n');

/** The answer to a usage error or an unknown command: what went wrong, then the card. */
export function usageMessage(problem: string | undefined): SlackMessage {
  const text = problem === undefined ? HELP_TEXT : `${problem}\n\n${HELP_TEXT}`;
  return { text };
}

/** A customer's WhatsApp message in the thread: who, the text as written (WhatsApp's *bold* is Slack's), files as links. */
export function customerMessage(
  message: {
    senderName: string | undefined;
    text: string;
    attachments: ReadonlyArray<{ url: string; type: string | undefined }>;
  },
  threadTs: string,
): SlackMessage & { thread_ts: string } {
  const who = escapeMrkdwn(message.senderName ?? 'The customer');
  const lines = [`:incoming_envelope: *${who}* answered on WhatsApp:`];
  if (message.text.trim() !== '') lines.push(quoteText(escapeMrkdwn(message.text), 40, 3_000));
  for (const attachment of message.attachments) {
    lines.push(`• <${attachment.url}|${escapeMrkdwn(attachment.type ?? 'file')}>`);
  }
  const text = lines.join('\n');
  return {
    text,
    thread_ts: threadTs,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }],
    unfurl_links: false,
    unfurl_media: false,
  };
}
