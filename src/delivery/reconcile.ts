import type { CallOptions, ChatwootClient } from '../chatwoot/client.ts';
import type { Message } from '../chatwoot/schemas.ts';

/**
 * Where the bridge marks its messages in Chatwoot. `echo_id` is not stored by Chatwoot, but `content_attributes`
 * is stored as given and returned by every read and webhook, so a message can always be traced to its send.
 */
export const MARKER_KEY = 'slack_whatsapp_bridge';

export function markerFor(sendId: string, part: number): Record<string, unknown> {
  return { [MARKER_KEY]: `${sendId}/${part}` };
}

export function markerOf(message: Pick<Message, 'content_attributes'>): { sendId: string; part: number } | undefined {
  const value = message.content_attributes[MARKER_KEY];
  if (typeof value !== 'string') return undefined;
  const match = /^(.+)\/(\d+)$/.exec(value);
  return match?.[1] === undefined || match[2] === undefined ? undefined : { sendId: match[1], part: Number(match[2]) };
}

/** Clocks differ between us and Chatwoot; look this much further back than the attempt started. */
const CLOCK_SKEW_MS = 10 * 60_000;
const MAX_PAGES = 10;

/**
 * After an attempt with no known outcome (a timeout, a reset, a 5xx from a proxy, a crash mid-request), finds the
 * message if Chatwoot stored it, by its marker among the conversation's recent messages. Pages back (20 a page)
 * until messages are older than the attempt. Returns undefined when it is certainly not there.
 */
export async function findMarkedMessage(
  client: ChatwootClient,
  conversationId: number,
  marker: { sendId: string; part: number },
  attemptStartedAt: number,
  options: CallOptions,
): Promise<Message | undefined> {
  let before: number | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const messages = await client.listMessages(conversationId, before === undefined ? {} : { before }, options);
    const found = messages.find((message) => {
      const mark = markerOf(message);
      return mark?.sendId === marker.sendId && mark.part === marker.part;
    });
    if (found !== undefined) return found;
    const oldest = messages.reduce<Message | undefined>(
      (min, m) => (min === undefined || m.id < min.id ? m : min),
      undefined,
    );
    if (oldest === undefined || messages.length < 20 || oldest.created_at * 1000 < attemptStartedAt - CLOCK_SKEW_MS) {
      return undefined;
    }
    before = oldest.id;
  }
  return undefined;
}
