import { z } from 'zod';

/**
 * Only the fields the bridge reads, as Chatwoot 4.x sends them (see shared/reference/chatwoot.md). Unknown fields
 * are ignored, so a newer Chatwoot that adds fields keeps working; a missing or retyped field becomes a clear error.
 */

const nullableString = z
  .string()
  .nullish()
  .transform((value) => value ?? undefined);
const unixSeconds = z.number();

export const apiInfoSchema = z.object({
  version: z.string(),
  queue_services: z.string().optional(),
  data_services: z.string().optional(),
});
export type ApiInfo = z.infer<typeof apiInfoSchema>;

export const profileSchema = z.object({
  id: z.number(),
  name: z.string(),
  email: nullableString,
  accounts: z.array(
    z.object({
      id: z.number(),
      name: z.string(),
      role: z.string(),
      status: nullableString,
    }),
  ),
});
export type Profile = z.infer<typeof profileSchema>;

export const inboxSchema = z.object({
  id: z.number(),
  name: z.string(),
  channel_type: z.string(),
  provider: nullableString,
  medium: nullableString,
  phone_number: nullableString,
  lock_to_single_conversation: z
    .boolean()
    .nullish()
    .transform((value) => value ?? false),
  /** WhatsApp templates as synced from Meta (their own shape; read by src/templates). */
  message_templates: z.unknown().optional(),
});
export type Inbox = z.infer<typeof inboxSchema>;
export const inboxListSchema = z.object({ payload: z.array(inboxSchema) });

/** The message JSON of the REST API: `message_type` is an integer here (0 incoming, 1 outgoing, 2 activity, 3 template). */
export const messageSchema = z.object({
  id: z.number(),
  conversation_id: z.number().optional(),
  content: nullableString,
  message_type: z.number(),
  status: nullableString,
  source_id: nullableString,
  private: z
    .boolean()
    .nullish()
    .transform((value) => value ?? false),
  created_at: unixSeconds,
  content_attributes: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((value) => value ?? {}),
  /** Who wrote it (the contact, for incoming messages). */
  sender: z.object({ name: nullableString }).passthrough().nullish(),
  attachments: z.array(z.object({ data_url: nullableString, file_type: nullableString }).passthrough()).nullish(),
});
export type Message = z.infer<typeof messageSchema>;
export const messageListSchema = z.object({ payload: z.array(messageSchema) });

export const MESSAGE_TYPE = { incoming: 0, outgoing: 1, activity: 2, template: 3 } as const;

const contactSummarySchema = z.object({
  id: z.number(),
  name: nullableString,
  phone_number: nullableString,
  email: nullableString,
  identifier: nullableString,
});

export const conversationSchema = z.object({
  id: z.number(),
  inbox_id: z.number(),
  status: z.string(),
  /** Absent before Chatwoot 4.1, which computes the WhatsApp 24-hour window. */
  can_reply: z.boolean().optional(),
  last_activity_at: z.number().optional(),
  meta: z.object({
    sender: contactSummarySchema,
    channel: nullableString,
  }),
  messages: z
    .array(messageSchema.partial({ created_at: true }).extend({ created_at: unixSeconds.optional() }))
    .optional()
    .transform((value) => value ?? []),
});
export type Conversation = z.infer<typeof conversationSchema>;

export const conversationListSchema = z.object({
  data: z.object({
    meta: z.object({ all_count: z.number().optional() }).optional(),
    payload: z.array(conversationSchema),
  }),
});
export const contactConversationsSchema = z.object({ payload: z.array(conversationSchema) });

export const contactSchema = contactSummarySchema.extend({
  contact_inboxes: z
    .array(
      z.object({
        source_id: nullableString,
        inbox: z.object({ id: z.number(), channel_type: nullableString }).optional(),
      }),
    )
    .optional()
    .transform((value) => value ?? []),
});
export type Contact = z.infer<typeof contactSchema>;
export const contactSearchSchema = z.object({
  meta: z.object({ has_more: z.boolean().optional(), count: z.number().optional() }).optional(),
  payload: z.array(contactSchema),
});

export const toggleStatusSchema = z.object({
  payload: z.object({ success: z.boolean().optional(), current_status: z.string().optional() }).optional(),
});

export const createContactSchema = z.object({
  payload: z.object({ contact: z.object({ id: z.number() }) }),
});
export const contactInboxSchema = z.object({ source_id: nullableString });
