import { describeReference } from '../conversations/reference/parse-reference.ts';
import { maskPhone } from '../conversations/reference/phone.ts';
import { referenceOf, type SendRecord, sendingDone } from './send-record.ts';

/** Who the send goes to, for people: 'Jane Doe (+44 •••• ••0958) in conversation #57', or the reference. */
export function describeRecipient(record: SendRecord): string {
  const conversation = record.conversation;
  if (conversation === undefined) {
    return record.reference.kind === 'phone'
      ? maskPhone(record.reference.e164)
      : `conversation ${describeReference(referenceOf(record))}`;
  }
  const phone = conversation.contactPhone === undefined ? undefined : maskPhone(conversation.contactPhone);
  const who = [conversation.contactName, phone === undefined ? undefined : `(${phone})`].filter(Boolean).join(' ');
  return `${who === '' ? 'the customer' : who} in conversation #${conversation.id}`;
}

/** One line saying where a send stands, the same words wherever it is reported. */
export function describeState(record: SendRecord, now: number): string {
  const ids = record.parts.flatMap((part) => (part.messageId === undefined ? [] : [part.messageId]));
  const messages = ids.length === 1 ? `message ${ids[0]}` : `messages ${ids.join(', ')}`;
  const parts = record.parts.length > 1 ? ` (${record.parts.length} parts)` : '';
  if (record.content.kind === 'note' && record.state !== 'failed' && record.state !== 'waiting') {
    const where =
      record.conversation === undefined ? describeRecipient(record) : `conversation #${record.conversation.id}`;
    return sendingDone(record)
      ? `Private note added to ${where} as ${messages}; not sent to WhatsApp.`
      : `Queued: a private note for ${where}.`;
  }
  switch (record.state) {
    case 'queued':
      return `Queued for ${describeRecipient(record)}${parts}.`;
    case 'waiting': {
      const waiting = record.waiting;
      if (waiting === undefined) return `Retrying for ${describeRecipient(record)}.`;
      const seconds = Math.max(0, Math.ceil((waiting.until - now) / 1000));
      return `Waiting: ${waiting.reason}; next try in ${seconds} s.`;
    }
    case 'accepted':
      return `Accepted by Chatwoot as ${messages} for ${describeRecipient(record)}${parts}; waiting for WhatsApp.${reopened(record)}`;
    case 'sent':
      return `Sent: WhatsApp took ${messages} for ${describeRecipient(record)}.${reopened(record)}${afterTemplate(record)}`;
    case 'delivered':
      return `Delivered to ${describeRecipient(record)}.${reopened(record)}${afterTemplate(record)}`;
    case 'read':
      return `Read by ${describeRecipient(record)}.${reopened(record)}`;
    case 'failed': {
      const failure = record.failure;
      const which =
        record.failedPart === undefined
          ? ''
          : ` (part ${record.failedPart + 1} of ${record.parts.length}; ${record.failedPart === 0 ? 'nothing was sent' : 'the parts before it were sent'})`;
      return failure === undefined
        ? 'Failed.'
        : `Failed${which}: ${[failure.message, failure.advice].filter(Boolean).join(' ')}`;
    }
  }
}

/** A template does not open WhatsApp's 24-hour window: only the customer's answer does. */
function afterTemplate(record: SendRecord): string {
  return record.content.kind === 'template'
    ? ' A template does not open the 24-hour window: free text can follow once the customer replies.'
    : '';
}

function reopened(record: SendRecord): string {
  return record.conversation?.reopen === 'done'
    ? ' The conversation was resolved; the bridge reopened it so the answer comes back there.'
    : '';
}
