import { prepareText } from '../compose/prepare-text.ts';
import { TEXT_LIMIT, type WhatsAppChannel } from '../conversations/inbox-directory.ts';
import { checkMedia } from './media.ts';
import type { Failure, SendContent } from './send-record.ts';

/** Long text is split into at most this many messages; longer text is refused rather than truncated. */
export const MAX_PARTS = 10;

export type PreparedContent =
  | { readonly ok: true; readonly parts: ReadonlyArray<{ readonly content: string; readonly length: number }> }
  | { readonly ok: false; readonly failure: Omit<Failure, 'at'> };

/** Turns a send's content into the messages to post, for the conversation's channel. */
export type PrepareContent = (content: SendContent, channel: WhatsAppChannel) => PreparedContent;

/** WhatsApp's limit on a media caption. */
export const CAPTION_LIMIT = 1024;

/** Chatwoot's limit on a message's content; a private note is one message of up to this many characters. */
export const NOTE_LIMIT = 150_000;

export const prepareContent: PrepareContent = (content, channel) => {
  if (content.kind === 'note') {
    const names = content.names ?? {};
    const prepared = prepareText(content.text, {
      maxLength: NOTE_LIMIT,
      maxParts: 1,
      names: { user: (id) => names[id], channel: (id) => names[id], usergroup: (id) => names[id] },
    });
    if (!prepared.ok) {
      return {
        ok: false,
        failure: {
          code: prepared.code === 'empty' ? 'text_empty' : 'text_too_long',
          message: prepared.code === 'empty' ? 'The note is empty.' : prepared.message,
          advice: prepared.code === 'empty' ? 'Write the note after the conversation.' : 'Shorten the note.',
          retryable: false,
        },
      };
    }
    return { ok: true, parts: prepared.parts.map((part) => ({ content: part.content, length: part.length })) };
  }
  if (content.kind === 'template') {
    // WhatsApp shows the approved template itself; `content` is its rendered text, for Chatwoot's transcript.
    const rendered = content.rendered.trim() === '' ? `[template ${content.name}]` : content.rendered;
    return { ok: true, parts: [{ content: rendered, length: rendered.length }] };
  }
  if (content.kind === 'file') {
    const media = checkMedia(content, channel);
    if (!media.ok) {
      return {
        ok: false,
        failure: { code: 'media_refused', message: media.message, advice: media.advice, retryable: false },
      };
    }
    const caption = content.caption ?? '';
    if (caption.trim() === '') return { ok: true, parts: [{ content: '', length: 0 }] };
    const names = content.names ?? {};
    const prepared = prepareText(caption, {
      maxLength: CAPTION_LIMIT,
      maxParts: 1,
      names: { user: (id) => names[id], channel: (id) => names[id], usergroup: (id) => names[id] },
    });
    if (!prepared.ok) {
      return {
        ok: false,
        failure: {
          code: 'text_too_long',
          message: `A file's caption can be at most ${CAPTION_LIMIT} characters on WhatsApp.`,
          advice: 'Shorten the text, or send it as its own message.',
          retryable: false,
        },
      };
    }
    return { ok: true, parts: prepared.parts.map((part) => ({ content: part.content, length: part.length })) };
  }
  const names = content.names ?? {};
  const prepared = prepareText(content.text, {
    maxLength: TEXT_LIMIT[channel],
    maxParts: MAX_PARTS,
    names: { user: (id) => names[id], channel: (id) => names[id], usergroup: (id) => names[id] },
  });
  if (!prepared.ok) {
    return {
      ok: false,
      failure: {
        code: prepared.code === 'empty' ? 'text_empty' : 'text_too_long',
        message: prepared.message,
        advice: prepared.code === 'empty' ? 'Write the message text after the conversation.' : '',
        retryable: false,
      },
    };
  }
  return { ok: true, parts: prepared.parts.map((part) => ({ content: part.content, length: part.length })) };
};
