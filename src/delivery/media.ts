import type { WhatsAppChannel } from '../conversations/inbox-directory.ts';

/**
 * What WhatsApp accepts as media (Meta's Cloud API limits; Twilio caps a whole message at 16 MB and images at 5 MB),
 * checked before anything is sent so a refusal is immediate and says why.
 */
const MB = 1024 * 1024;
const KINDS: ReadonlyArray<{ kind: string; types: readonly string[]; maxBytes: number }> = [
  { kind: 'image', types: ['image/jpeg', 'image/png'], maxBytes: 5 * MB },
  { kind: 'video', types: ['video/mp4', 'video/3gpp'], maxBytes: 16 * MB },
  {
    kind: 'audio',
    types: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg', 'audio/x-m4a'],
    maxBytes: 16 * MB,
  },
  {
    kind: 'document',
    types: [
      'text/plain',
      'application/pdf',
      'application/msword',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/vnd.ms-excel',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'application/vnd.ms-powerpoint',
      'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    ],
    maxBytes: 100 * MB,
  },
];
const TWILIO_MAX_BYTES = 16 * MB;

export type MediaCheck = { ok: true; kind: string } | { ok: false; message: string; advice: string };

const size = (bytes: number) => `${(bytes / MB).toFixed(bytes < 10 * MB ? 1 : 0)} MB`;

export function checkMedia(
  file: { readonly fileName: string; readonly mimeType: string; readonly size: number },
  channel: WhatsAppChannel = 'whatsapp',
): MediaCheck {
  const mime = file.mimeType.toLowerCase().split(';')[0]?.trim() ?? '';
  const entry = KINDS.find((candidate) => candidate.types.includes(mime));
  if (entry === undefined) {
    return {
      ok: false,
      message: `WhatsApp does not take ${file.fileName} (${mime || 'unknown type'}).`,
      advice:
        'Send a JPEG or PNG image, an MP4 video, an MP3/AAC/OGG/AMR audio, or a PDF, Word, Excel, PowerPoint or text document.',
    };
  }
  const limit = channel === 'twilio_whatsapp' ? Math.min(entry.maxBytes, TWILIO_MAX_BYTES) : entry.maxBytes;
  if (file.size > limit) {
    return {
      ok: false,
      message: `${file.fileName} is ${size(file.size)}; WhatsApp takes ${entry.kind} files up to ${size(limit)}.`,
      advice: 'Send a smaller file, or a link to it.',
    };
  }
  return { ok: true, kind: entry.kind };
}
