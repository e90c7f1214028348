import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Keyv from 'keyv';
import { z } from 'zod';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';

export const WEBHOOK_PATH = '/chatwoot/webhook';
/** Chatwoot waits 5 s and never retries: answer at once, work after. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Deliveries older (or newer: clock skew) than this are refused: a captured delivery cannot be replayed later. */
export const WEBHOOK_TOLERANCE_MS = 5 * 60_000;
/** A delivery id is remembered this long; Chatwoot never re-sends, so a repeat is a replay. */
const DELIVERY_TTL_MS = 24 * 60 * 60_000;

const messageInConversationSchema = z.object({
  id: z.number().optional(),
  status: z.string().nullish(),
});

/** The parts of Chatwoot's message webhook (reference §6.2) the bridge reads; everything else passes through. */
export const messageEventSchema = z.object({
  event: z.enum(['message_created', 'message_updated']),
  id: z.number(),
  content: z.string().nullish(),
  /** A string here ("incoming" | "outgoing" | "template"), an integer in the REST API. */
  message_type: z.string(),
  private: z.boolean().nullish(),
  source_id: z.string().nullish(),
  content_attributes: z.record(z.string(), z.unknown()).nullish(),
  created_at: z.union([z.string(), z.number()]).nullish(),
  sender: z
    .object({ id: z.number().optional(), name: z.string().nullish(), type: z.string().nullish() })
    .passthrough()
    .nullish(),
  inbox: z.object({ id: z.number() }).passthrough(),
  attachments: z
    .array(z.object({ data_url: z.string().nullish(), file_type: z.string().nullish() }).passthrough())
    .nullish(),
  conversation: z.object({ id: z.number(), messages: z.array(messageInConversationSchema).nullish() }).passthrough(),
});
export type MessageEvent = z.infer<typeof messageEventSchema>;

export interface WebhookStatus {
  readonly lastAt: number;
  readonly count: number;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` (Chatwoot ≥ 4.11.2). */
export function verifySignature(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: Buffer,
  now: number,
): SignatureCheck {
  const { signature, timestamp } = headers;
  if (signature === undefined || timestamp === undefined) return { ok: false, reason: 'unsigned' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  if (Math.abs(now - Number(timestamp) * 1000) > WEBHOOK_TOLERANCE_MS) return { ok: false, reason: 'stale_timestamp' };
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad_signature' };
  return { ok: true };
}

export interface WebhookReceiverOptions {
  readonly secret: string;
  /** Delivery ids seen (and the receiver's status under the key `status`). */
  readonly deliveries: Keyv<unknown>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after the answer, one delivery at a time, in arrival order. */
  readonly onMessage: (event: MessageEvent) => Promise<void>;
}

export interface WebhookReceiver {
  /** Handles `POST /chatwoot/webhook`; returns false for any other request. */
  handle(request: IncomingMessage, response: ServerResponse): boolean;
  /** When the last verified delivery arrived, for readiness, `check` and polling. */
  status(): Promise<WebhookStatus | undefined>;
  /** Resolves when every accepted delivery has been processed (tests, shutdown). */
  idle(): Promise<void>;
}

/**
 * Chatwoot's account webhook: verified over the raw bytes, stale or forged deliveries refused (401, logged without the
 * body), each delivery id processed once, answered before any work so Chatwoot's 5 s never run out.
 */
export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const { secret, deliveries, clock, logger } = options;
  let chain: Promise<void> = Promise.resolve();
  let lastAt: number | undefined;
  let count = 0;
  /** Delivery ids claimed in this process (the store write may still be in flight). */
  const claiming = new Set<string>();

  const answer = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(JSON.stringify(body));
  };

  const receive = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > MAX_BODY_BYTES) {
        answer(response, 413, { error: 'payload too large' });
        request.destroy();
        return;
      }
      chunks.push(buffer);
    }
    const raw = Buffer.concat(chunks);
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const deliveryId = header('x-chatwoot-delivery');
    const check = verifySignature(
      secret,
      { signature: header('x-chatwoot-signature'), timestamp: header('x-chatwoot-timestamp') },
      raw,
      clock.now(),
    );
    if (!check.ok) {
      logger.warn({ reason: check.reason, deliveryId, bytes: raw.length }, 'refused a Chatwoot webhook');
      answer(response, 401, { error: 'invalid signature' });
      return;
    }
    if (deliveryId !== undefined) {
      if (claiming.has(deliveryId) || (await deliveries.get(`delivery:${deliveryId}`)) !== undefined) {
        logger.info({ deliveryId }, 'ignored a repeated Chatwoot webhook delivery');
        answer(response, 200, { ok: true, duplicate: true });
        return;
      }
      claiming.add(deliveryId);
      try {
        await deliveries.set(`delivery:${deliveryId}`, clock.now(), DELIVERY_TTL_MS);
      } finally {
        claiming.delete(deliveryId);
      }
    }
    lastAt = clock.now();
    count += 1;
    void deliveries.set('status', { lastAt, count }).catch(() => undefined);
    answer(response, 200, { ok: true });

    let payload: unknown;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      logger.warn({ deliveryId }, 'a signed Chatwoot webhook is not JSON; ignored');
      return;
    }
    const event = messageEventSchema.safeParse(payload);
    if (!event.success) {
      const name = typeof payload === 'object' && payload !== null ? (payload as { event?: unknown }).event : undefined;
      logger.debug({ deliveryId, event: name }, 'Chatwoot webhook event not used');
      return;
    }
    chain = chain
      .then(() => options.onMessage(event.data))
      .catch((error: unknown) =>
        logger.error({ err: error, deliveryId, messageId: event.data.id }, 'could not process a Chatwoot webhook'),
      );
  };

  return {
    handle: (request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path !== WEBHOOK_PATH || request.method !== 'POST') return false;
      receive(request, response).catch((error: unknown) => {
        logger.error({ err: error }, 'Chatwoot webhook failed');
        if (!response.headersSent) answer(response, 500, { error: 'internal error' });
      });
      return true;
    },
    status: async () => {
      if (lastAt !== undefined) return { lastAt, count };
      const stored = z.object({ lastAt: z.number(), count: z.number() }).safeParse(await deliveries.get('status'));
      return stored.success ? stored.data : undefined;
    },
    idle: async () => {
      await chain;
    },
  };
}
