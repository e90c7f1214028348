/** Chatwoot JSON as its REST API returns it (shared/reference/chatwoot.md §1, §3.2), with overridable fields. */

export function messageJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 4821,
    content: 'Hello from Slack',
    inbox_id: 3,
    conversation_id: 57,
    message_type: 1,
    content_type: 'text',
    status: 'sent',
    content_attributes: {},
    created_at: 1_781_690_000,
    private: false,
    source_id: null,
    sender: { id: 2, name: 'Slack Bot', available_name: 'Slack Bot', avatar_url: '', type: 'user' },
    ...overrides,
  };
}

export function conversationJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    meta: {
      sender: {
        id: 11,
        name: 'Jane Doe',
        phone_number: '+14155550123',
        email: null,
        identifier: null,
        thumbnail: '',
        additional_attributes: {},
        custom_attributes: {},
        blocked: false,
      },
      channel: 'Channel::Whatsapp',
      assignee: null,
      hmac_verified: false,
    },
    id: 57,
    messages: [messageJson({ message_type: 0, content: 'Hi, where is my order?' })],
    account_id: 1,
    uuid: '5a7c4c7e-5f0b-4d38-9d0b-3d4b2f3f7c11',
    additional_attributes: {},
    agent_last_seen_at: 0,
    assignee_last_seen_at: 0,
    can_reply: true,
    contact_last_seen_at: 0,
    custom_attributes: {},
    inbox_id: 3,
    labels: [],
    muted: false,
    snoozed_until: null,
    status: 'open',
    created_at: 1_781_600_000,
    updated_at: 1_781_690_000.123,
    timestamp: 1_781_690_000,
    first_reply_created_at: 0,
    unread_count: 0,
    last_activity_at: 1_781_690_000,
    priority: null,
    waiting_since: 0,
    ...overrides,
  };
}
