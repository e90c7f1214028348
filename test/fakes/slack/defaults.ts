/** Identities shared by the fake Slack and the request builders, so a default slash command matches the default fake. */
export const SLACK_DEFAULTS = {
  botToken: 'xoxb-test-bot-token',
  appToken: 'xapp-test-app-token',
  signingSecret: 'test-signing-secret',
  teamId: 'T0TEST0001',
  teamDomain: 'fake-workspace',
  appId: 'A0TEST0001',
  botUserId: 'U0BOT00001',
  botId: 'B0BOT00001',
  botName: 'whatsapp-bridge',
  /** Seeded into every fake: a human member of every channel unless a channel lists its users. */
  user: { id: 'U0USER0001', name: 'jane', realName: 'Jane Doe' },
  /** Seeded into every fake: a public channel the bot is a member of. */
  channel: { id: 'C0CHAN0001', name: 'general' },
  scopes: [
    'commands',
    'chat:write',
    'chat:write.public',
    'users:read',
    'channels:history',
    'groups:history',
    'im:history',
    'reactions:write',
    'files:read',
  ],
} as const;
