/**
 * Every environment variable the bridge reads, in one table: validation, the README's configuration table and
 * `.env.example` are all derived from it (a test keeps the two documents in step).
 */
export interface VariableSpec {
  readonly name: string;
  /** `true`, `false`, or a sentence saying when it becomes required. */
  readonly required: boolean | string;
  /** The default as written in the docs; `undefined` when there is none. */
  readonly default?: string;
  readonly secret?: boolean;
  /** One line for the README table. */
  readonly meaning: string;
  /** Shown in `.env.example`; secrets get a placeholder. */
  readonly example?: string;
}

export const variables = [
  {
    name: 'CHATWOOT_BASE_URL',
    required: true,
    meaning: 'Where the bridge reaches Chatwoot, e.g. `https://chat.example.com` (a trailing slash is fine).',
    example: 'https://chat.example.com',
  },
  {
    name: 'CHATWOOT_API_ACCESS_TOKEN',
    required: true,
    secret: true,
    meaning:
      "A Chatwoot **user** access token (Profile settings → Access token) of an agent in the WhatsApp inbox or of an administrator. Agent Bot tokens can't look conversations up.",
    example: 'paste-your-chatwoot-user-token',
  },
  {
    name: 'CHATWOOT_ACCOUNT_ID',
    required: false,
    default: '1',
    meaning:
      'The Chatwoot account (the number after `/app/accounts/` in its URLs). Startup checks the token belongs to it.',
    example: '1',
  },
  {
    name: 'CHATWOOT_PUBLIC_URL',
    required: false,
    meaning:
      'The address people open Chatwoot at, when the bridge reaches it at an internal one. Used for links in Slack and to accept pasted conversation links.',
  },
  {
    name: 'CHATWOOT_INBOX_ID',
    required: false,
    meaning:
      "The WhatsApp inbox used for phone-number lookups. Unset: the account's only WhatsApp inbox (an error names the candidates when there are several).",
  },
  {
    name: 'CHATWOOT_WEBHOOK_SECRET',
    required: false,
    secret: true,
    meaning:
      "Turns on `POST /chatwoot/webhook` for instant delivery updates and customers' answers: the secret Chatwoot shows for the webhook (Settings → Integrations → Webhooks). Unset: polling alone.",
  },
  {
    name: 'CHATWOOT_REQUESTS_PER_MINUTE',
    required: false,
    default: '240',
    meaning:
      "Request budget towards Chatwoot, shared by everything the bridge does. Chatwoot's example config limits each IP to 300/min (its code default is 3000); 240 leaves room for other tools on the same IP. Raise it if your server allows more.",
    example: '240',
  },
  {
    name: 'CHATWOOT_CONCURRENCY',
    required: false,
    default: '4',
    meaning: 'Requests to Chatwoot in flight at most. One slot stays free for Slack-facing lookups.',
  },
  {
    name: 'CHATWOOT_TIMEOUT_SECONDS',
    required: false,
    default: '15',
    meaning:
      'How long one request to Chatwoot may take before it counts as failed (a send is then checked, not repeated).',
  },
  {
    name: 'WHATSAPP_PACING_SECONDS',
    required: false,
    default: '6',
    meaning:
      'Seconds between messages to the same customer after a burst. WhatsApp allows about one message every 6 s per person and rejects faster senders (error 131056).',
  },
  {
    name: 'WHATSAPP_PACING_BURST',
    required: false,
    default: '3',
    meaning:
      'Messages that may go to one customer back to back before pacing applies (so a split message arrives together).',
  },
  {
    name: 'CONVERSATION_CACHE_TTL_SECONDS',
    required: false,
    default: '600',
    meaning:
      'How long a phone number → conversation lookup is reused without asking Chatwoot. The 24-hour window is tracked separately, from its real end.',
  },
  {
    name: 'TEMPLATES_FILE',
    required: false,
    default: 'templates.yml',
    meaning:
      'The team’s text snippets with `{{variables}}` (see `templates.example.yml`), checked at startup. The default file is optional; a path you set must exist.',
  },
  {
    name: 'TEMPLATE_CACHE_TTL_SECONDS',
    required: false,
    default: '600',
    meaning:
      'How long the WhatsApp inbox’s approved templates are reused before Chatwoot is asked again (`/whatsapp templates refresh` re-reads at once).',
  },
  {
    name: 'DEFAULT_PHONE_REGION',
    required: false,
    meaning: 'Country (ISO code such as `GB`) for phone numbers written without `+`, e.g. `020 7946 0958`.',
  },
  {
    name: 'SLACK_BOT_TOKEN',
    required: 'for `start`',
    secret: true,
    meaning:
      'Bot token (`xoxb-…`): the Slack app’s OAuth & Permissions page, after installing it. Checked with Slack at startup.',
    example: 'xoxb-your-bot-token',
  },
  {
    name: 'SLACK_APP_TOKEN',
    required: 'for `start`: this or `SLACK_SIGNING_SECRET`',
    secret: true,
    meaning:
      'App-level token (`xapp-…`, scope `connections:write`: Basic Information → App-Level Tokens). Set: Socket Mode, the easy default (no public URL).',
    example: 'xapp-your-app-token',
  },
  {
    name: 'SLACK_SIGNING_SECRET',
    required: 'in HTTP mode (no `SLACK_APP_TOKEN`)',
    secret: true,
    meaning:
      'Signing secret (Basic Information page). Used in HTTP mode (no `SLACK_APP_TOKEN`): Slack posts to `https://<host>/slack/events`.',
  },
  {
    name: 'SLACK_API_URL',
    required: false,
    default: 'https://slack.com/api/',
    meaning: 'Where Slack Web API calls go (GovSlack, tests).',
  },
  {
    name: 'SLACK_ALERT_CHANNEL',
    required: false,
    meaning:
      'Channel id (`C…`) that gets an alert, with a Retry button, for every send that finally fails (grouped when many fail at once). Invite the bot to it.',
  },
  {
    name: 'SLACK_DEFAULT_CHANNEL',
    required: false,
    meaning:
      'Channel id (`C…`) preselected in the "Send WhatsApp message" form as where the result thread goes (people can pick another).',
  },
  {
    name: 'SLACK_REPLY_PREFIX',
    required: false,
    meaning:
      'A word that sends a reply typed in a send’s thread to the customer, like mentioning the bot does (e.g. `wa:`). Other replies stay internal to the team.',
  },
  {
    name: 'SLACK_ALLOWED_USERS',
    required: false,
    meaning: 'Comma-separated Slack user ids allowed to send (`U…,W…`). Empty: everyone in the workspace.',
  },
  {
    name: 'SLACK_ALLOWED_CHANNELS',
    required: false,
    meaning: 'Comma-separated channel ids where sending is allowed. Empty: everywhere.',
  },
  {
    name: 'PORT',
    required: false,
    default: '3000',
    meaning: 'HTTP port for `GET /healthz`, `GET /readyz` and, in HTTP mode, Slack’s requests at `POST /slack/events`.',
    example: '3000',
  },
  {
    name: 'STORE_URL',
    required: false,
    default: 'sqlite://data/bridge.sqlite',
    meaning:
      'Where state lives: `sqlite://data/bridge.sqlite` (relative), `sqlite:///var/lib/bridge/bridge.sqlite` (absolute), `redis://host:6379/0`, or `memory://` (tests; lost on restart).',
    example: 'sqlite://data/bridge.sqlite',
  },
  {
    name: 'LOG_LEVEL',
    required: false,
    default: 'info',
    meaning:
      'pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. Message text is only logged at `trace`.',
  },
] as const satisfies readonly VariableSpec[];

export type VariableName = (typeof variables)[number]['name'];
