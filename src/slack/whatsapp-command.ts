import { type Bridge, SubmitError } from '../bridge.ts';
import { isChatwootError } from '../chatwoot/errors.ts';
import { MESSAGE_TYPE } from '../chatwoot/schemas.ts';
import { mentionIds } from '../compose/slack-to-commonmark.ts';
import type { Config } from '../config/load-config.ts';
import { conversationUrl, findContacts, readFindQuery } from '../conversations/find-contacts.ts';
import {
  type ConversationReference,
  parseReference,
  parseTarget,
  type ReferenceOptions,
} from '../conversations/reference/parse-reference.ts';
import { maskPhone } from '../conversations/reference/phone.ts';
import { ResolveError } from '../conversations/resolve-error.ts';
import { markerOf } from '../delivery/reconcile.ts';
import type { SendContent } from '../delivery/send-record.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import { fillTeamTemplate } from '../templates/team-templates.ts';
import type { Templates } from '../templates/templates-service.ts';
import {
  describeTemplate,
  fillTemplate,
  findTemplate,
  templateContent,
  type WhatsAppTemplate,
} from '../templates/whatsapp-templates.ts';
import { checkPermission, ENTRY_POINTS } from './entry-points.ts';
import { escapeMrkdwn, HELP_TEXT, usageMessage } from './render.ts';
import { parseTemplateArgs, plainSlackText } from './template-args.ts';
import type { ThreadReporter } from './thread-reporter.ts';

/** The slash command's fields we use (Bolt's `SlashCommand`). */
export interface SlashCommand {
  readonly command: string;
  readonly text: string;
  readonly trigger_id: string;
  readonly user_id: string;
  readonly user_name?: string;
  readonly channel_id: string;
  readonly channel_name?: string;
  readonly response_url: string;
}

export interface CommandReply {
  readonly response_type?: 'ephemeral' | 'in_channel';
  readonly text: string;
  readonly blocks?: readonly unknown[];
  readonly replace_original?: boolean;
}

export type Ack = (reply?: CommandReply) => Promise<void>;
export type Respond = (reply: CommandReply) => Promise<void>;

export const FIND_SEND_ACTION_ID = 'find_send';

export interface CommandDeps {
  readonly config: Pick<Config, 'chatwoot' | 'defaultPhoneRegion' | 'slack'>;
  readonly templates: Templates;
  readonly bridge: Pick<Bridge, 'submit' | 'resolver' | 'client' | 'get'>;
  readonly reporter: ThreadReporter;
  /** Display names of Slack users mentioned in a text (bounded in time; missing ones fall back to labels). */
  readonly userNames: (ids: readonly string[]) => Promise<Record<string, string>>;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Lookups done for Slack (find, status) wait at most this long for Chatwoot, then say so. */
const LOOKUP_DEADLINE_MS = 10_000;
const LOOKUP = { lane: 'interactive', deadlineMs: LOOKUP_DEADLINE_MS } as const;
/** Before an acknowledgement (Slack waits 3 s): the templates are usually cached, so this rarely waits at all. */
const LOOKUP_FAST = { lane: 'interactive', deadlineMs: 2_000 } as const;

/**
 * `/whatsapp <subcommand> …`. Every answer is ephemeral and arrives within Slack's 3 seconds: sends are stored
 * and acknowledged at once (the work runs after the ack); lookups acknowledge first and answer via response_url,
 * which works in DMs and private channels the bot is not in.
 */
export function createWhatsAppCommand(deps: CommandDeps) {
  const { config, bridge, reporter, logger, templates } = deps;
  const referenceOptions: ReferenceOptions = {
    accountId: config.chatwoot.accountId,
    chatwootOrigins: config.chatwoot.linkOrigins,
    defaultRegion: config.defaultPhoneRegion,
  };

  const ephemeral = (text: string, blocks?: readonly unknown[]): CommandReply => ({
    response_type: 'ephemeral',
    text,
    ...(blocks === undefined ? {} : { blocks }),
  });

  const send = async (command: SlashCommand, kind: 'text' | 'note', rest: string, ack: Ack): Promise<void> => {
    const target = parseTarget(rest, referenceOptions);
    if (!target.ok) {
      const usage =
        kind === 'note'
          ? `Usage: \`${command.command} note <conversation> <text>\``
          : `Usage: \`${command.command} send <conversation> <text>\``;
      await ack(ephemeral(`${target.problem.message}\n${usage}\n\n${HELP_TEXT}`));
      return;
    }
    const { reference, text } = target.value;
    const users = mentionIds(text).users;
    const names = users.length === 0 ? {} : await deps.userNames(users);
    const content: SendContent =
      kind === 'note'
        ? { kind: 'note', text, ...(Object.keys(names).length === 0 ? {} : { names }) }
        : { kind: 'text', text, ...(Object.keys(names).length === 0 ? {} : { names }) };
    await submitAndReport(command, reference, content, ack);
  };

  /** Stores the send (that is the acknowledgement's promise), answers, then opens its thread. */
  const submitAndReport = async (
    command: SlashCommand,
    reference: ConversationReference,
    content: SendContent,
    ack: Ack,
  ): Promise<void> => {
    let submitted: Awaited<ReturnType<Bridge['submit']>>;
    try {
      submitted = await bridge.submit({
        idempotencyKey: ENTRY_POINTS.slashCommand.key(command),
        reference,
        content,
        requestedBy: {
          via: ENTRY_POINTS.slashCommand.via,
          userId: command.user_id,
          ...(command.user_name === undefined ? {} : { userName: command.user_name }),
          channelId: command.channel_id,
        },
      });
    } catch (error) {
      if (error instanceof SubmitError) {
        await ack(ephemeral(`${error.message} Nothing was sent.`));
        return;
      }
      logger.error({ err: error }, 'could not store a send from Slack');
      await ack(
        ephemeral(
          'Sorry, the bridge could not store your message (its storage is not answering), so nothing was sent. Please try again in a minute.',
        ),
      );
      return;
    }
    const { record, duplicate } = submitted;
    const what =
      content.kind === 'note' ? 'Private note' : content.kind === 'template' ? `Template ${content.name}` : 'Message';
    await ack(
      ephemeral(
        `${what} for ${escapeMrkdwn(describeTarget(reference))} ${duplicate ? 'was already queued' : 'queued'}: the result appears in a thread here.`,
      ),
    );
    if (duplicate) return;
    await reporter.open(record, {
      channel: command.channel_id,
      userId: command.user_id,
      responseUrl: command.response_url,
    });
  };

  /** `template <conversation> <name> [lang=xx_YY] [var=value …]`: an approved template, or a team snippet. */
  const template = async (command: SlashCommand, rest: string, ack: Ack): Promise<void> => {
    const usage = `Usage: \`${command.command} template <conversation> <template-name> [lang=en_US] [1=value 2="value with spaces" …]\` (\`${command.command} templates\` lists them).`;
    const target = parseTarget(rest, referenceOptions);
    if (!target.ok) {
      await ack(ephemeral(`${target.problem.message}\n${usage}`));
      return;
    }
    const args = parseTemplateArgs(target.value.text);
    if (!args.ok) {
      await ack(ephemeral(`${args.message}\n${usage}`));
      return;
    }
    const { name, language, values } = args.value;
    const team = templates.team.find((candidate) => candidate.name === name.toLowerCase());
    let approved: readonly WhatsAppTemplate[];
    try {
      approved = await templates.catalogue.list(LOOKUP_FAST);
    } catch (error) {
      if (team === undefined) {
        await ack(ephemeral(`${lookupFailure(error)} The approved templates could not be read, so nothing was sent.`));
        return;
      }
      approved = [];
    }
    const found = findTemplate(approved, name, language);
    if (found.template !== undefined) {
      const filled = fillTemplate(found.template, values);
      if (!filled.ok) {
        await ack(
          ephemeral(
            `Template *${escapeMrkdwn(found.template.name)}* (${found.template.language}) needs:\n${filled.problems
              .map(
                (problem) => `• \`${problem.key}=…\` ${escapeMrkdwn(problem.label)}: ${escapeMrkdwn(problem.message)}`,
              )
              .join('\n')}\nNothing was sent.`,
          ),
        );
        return;
      }
      await submitAndReport(command, target.value.reference, templateContent(filled), ack);
      return;
    }
    if (found.candidates.length > 0) {
      await ack(
        ephemeral(
          `Template *${escapeMrkdwn(name)}* exists in ${found.candidates.map((candidate) => `\`${candidate.language}\``).join(', ')}: add \`lang=…\` to choose. Nothing was sent.`,
        ),
      );
      return;
    }
    if (team !== undefined) {
      const filled = fillTeamTemplate(team, values);
      if (!filled.ok) {
        await ack(
          ephemeral(
            `Snippet *${team.name}* needs ${filled.problems.map((problem) => `\`${problem.key}=…\``).join(', ')}. Nothing was sent.`,
          ),
        );
        return;
      }
      await submitAndReport(command, target.value.reference, { kind: 'text', text: filled.text }, ack);
      return;
    }
    await ack(
      ephemeral(
        `No approved WhatsApp template or team snippet is called *${escapeMrkdwn(name)}*. \`${command.command} templates\` lists them (approved ones come from Chatwoot's WhatsApp inbox). Nothing was sent.`,
      ),
    );
  };

  /** `templates [refresh]`: the approved templates with their variables, and the team's snippets. */
  const listTemplates = async (command: SlashCommand, rest: string, ack: Ack, respond: Respond): Promise<void> => {
    const refresh = rest.trim().toLowerCase() === 'refresh';
    await ack(ephemeral(refresh ? 'Reading the templates from Chatwoot again…' : 'Listing templates…'));
    let approved: readonly WhatsAppTemplate[] = [];
    let notice: string | undefined;
    try {
      if (refresh) {
        const refreshed = await templates.catalogue.refresh({
          ...LOOKUP,
          syncFromMeta: await templates.isAdministrator().catch(() => false),
        });
        approved = refreshed.templates;
        notice = refreshed.notice;
      } else approved = await templates.catalogue.list(LOOKUP);
    } catch (error) {
      notice = `${lookupFailure(error)} The approved templates could not be read.`;
    }
    const lines: string[] = [];
    lines.push(
      `*Approved WhatsApp templates* (for any conversation, also outside the 24-hour window; \`${command.command} template <conversation> <name> 1=… 2=…\`):`,
    );
    if (approved.length === 0) lines.push('_None found in the WhatsApp inbox._');
    for (const entry of approved.slice(0, 40)) {
      const variables = entry.variables.map((variable) => `\`${variable.key}\``).join(' ');
      lines.push(`• ${escapeMrkdwn(describeTemplate(entry))}${variables === '' ? '' : ` — needs ${variables}`}`);
    }
    if (approved.length > 40) lines.push(`…and ${approved.length - 40} more.`);
    lines.push(
      '',
      `*Team snippets* (free text, inside the 24-hour window only; \`${command.command} template <conversation> <name> var=…\`):`,
    );
    if (templates.team.length === 0) lines.push('_None: add them to templates.yml (see templates.example.yml)._');
    for (const entry of templates.team.slice(0, 40)) {
      const variables = entry.variables.map((variable) => `\`${variable}\``).join(' ');
      lines.push(
        `• *${entry.name}*${entry.description === undefined ? '' : `: ${escapeMrkdwn(entry.description)}`}${variables === '' ? '' : ` — needs ${variables}`}`,
      );
    }
    if (notice !== undefined) lines.push('', notice);
    const text = lines.join('\n');
    await respond({ response_type: 'ephemeral', replace_original: true, text: text.slice(0, 39_000) });
  };

  const find = async (command: SlashCommand, query: string, ack: Ack, respond: Respond): Promise<void> => {
    if (query.trim().length < 2) {
      await ack(ephemeral(`Usage: \`${command.command} find <phone|name|email>\` (at least 2 characters).`));
      return;
    }
    const read = readFindQuery(plainSlackText(query), config);
    if (!read.ok) {
      await ack(ephemeral(read.problem.message));
      return;
    }
    const shown = read.value.isPhone ? maskPhone(read.value.searchFor) : read.value.searchFor;
    await ack(ephemeral(`Searching Chatwoot for ${escapeMrkdwn(shown)}…`));
    try {
      const found = await findContacts(bridge.client, read.value, config, LOOKUP);
      await respond({ ...findReply(found, shown), replace_original: true });
    } catch (error) {
      await respond(ephemeral(lookupFailure(error)));
    }
  };

  const status = async (command: SlashCommand, rest: string, ack: Ack, respond: Respond): Promise<void> => {
    const parsed = parseReference(rest, referenceOptions);
    if (!parsed.ok) {
      await ack(ephemeral(`${parsed.problem.message}\nUsage: \`${command.command} status <conversation>\``));
      return;
    }
    await ack(ephemeral(`Looking up ${escapeMrkdwn(describeTarget(parsed.value))}…`));
    try {
      await respond({ ...(await statusReply(parsed.value)), replace_original: true });
    } catch (error) {
      await respond(ephemeral(lookupFailure(error)));
    }
  };

  const statusReply = async (reference: ConversationReference): Promise<CommandReply> => {
    const facts = await bridge.resolver.resolve(reference, LOOKUP);
    const id = facts.conversationId;
    const messages = await bridge.client.listMessages(id, {}, LOOKUP);
    const ours = messages
      .filter((message) => message.message_type === MESSAGE_TYPE.outgoing || message.private)
      .sort((a, b) => b.id - a.id)
      .slice(0, 5);
    const window = facts.window.open
      ? `open until ${new Date(facts.window.endsAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`
      : 'closed (only an approved template can reach the customer until they write)';
    const lines = [
      `*<${conversationUrl(config, id)}|Conversation #${id}>* · ${escapeMrkdwn(facts.contactName ?? 'no name')}${facts.contactPhone === undefined ? '' : ` (${maskPhone(facts.contactPhone)})`}`,
      `*Inbox:* ${escapeMrkdwn(facts.inboxName)} · *Status:* ${escapeMrkdwn(facts.status)}${facts.needsReopen ? ' (a send reopens it)' : ''}`,
      `*24-hour window:* ${window}`,
    ];
    if (ours.length === 0) lines.push('_No messages sent to this customer yet._');
    else {
      lines.push('*Last messages sent:*');
      for (const message of ours) {
        const marker = markerOf(message);
        const record = marker === undefined ? undefined : await bridge.get(marker.sendId);
        const by = record?.requestedBy.userId === undefined ? '' : ` by <@${record.requestedBy.userId}>`;
        const state = message.private ? 'private note' : messageState(message.status, message.content_attributes);
        const when = new Date(message.created_at * 1000).toISOString().slice(0, 16).replace('T', ' ');
        const preview = escapeMrkdwn((message.content ?? '').replace(/\s+/g, ' ').slice(0, 80));
        lines.push(`• ${when} UTC${by}: ${state}. “${preview}”`);
      }
    }
    const text = lines.join('\n');
    return {
      response_type: 'ephemeral',
      text,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }],
    };
  };

  /** Handles one `/whatsapp` command; `ack` must be called within 3 s, `respond` may follow later. */
  return async (command: SlashCommand, ack: Ack, respond: Respond): Promise<void> => {
    const text = command.text.trim();
    const [word = '', ...words] = text.split(/\s+/);
    const subcommand = word.toLowerCase();
    const rest = text.slice(word.length).replace(/^\s+/, '');
    if (subcommand === '' || subcommand === 'help') {
      await ack(usageMessage(undefined));
      return;
    }
    if (!['send', 'note', 'find', 'status', 'template', 'templates'].includes(subcommand)) {
      await ack({
        response_type: 'ephemeral',
        ...usageMessage(`I don't know \`${escapeMrkdwn(words.length === 0 ? word : `${word} …`)}\`.`),
      });
      return;
    }
    const permission = checkPermission(config.slack, { userId: command.user_id, channelId: command.channel_id });
    if (!permission.ok) {
      logger.info(
        { slackUser: command.user_id, channel: command.channel_id, reason: permission.reason, subcommand },
        'refused a Slack user',
      );
      await ack(ephemeral(permission.message));
      return;
    }
    if (subcommand === 'send' || subcommand === 'note')
      await send(command, subcommand === 'note' ? 'note' : 'text', rest, ack);
    else if (subcommand === 'template') await template(command, rest, ack);
    else if (subcommand === 'templates') await listTemplates(command, rest, ack, respond);
    else if (subcommand === 'find') await find(command, rest, ack, respond);
    else await status(command, rest, ack, respond);
  };
}

function describeTarget(reference: ConversationReference): string {
  return reference.kind === 'phone' ? maskPhone(reference.e164) : `conversation #${reference.conversationId}`;
}

function messageState(status: string | null | undefined, attributes: Record<string, unknown>): string {
  if (status === 'failed') {
    const reason = attributes['external_error'];
    return `*failed*${typeof reason === 'string' ? ` (${escapeMrkdwn(reason)})` : ''}`;
  }
  if (status === 'read') return 'read';
  if (status === 'delivered') return 'delivered';
  return status === 'sent' ? 'sent' : escapeMrkdwn(status ?? 'unknown');
}

function lookupFailure(error: unknown): string {
  if (error instanceof ResolveError || isChatwootError(error)) {
    return `${(error as Error).message}`;
  }
  return 'Sorry, the lookup failed unexpectedly. Please try again.';
}

function findReply(found: Awaited<ReturnType<typeof findContacts>>, shown: string): CommandReply {
  if (found.contacts.length === 0) {
    return { response_type: 'ephemeral', text: `No contact in Chatwoot matches ${escapeMrkdwn(shown)}.` };
  }
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*Contacts matching ${escapeMrkdwn(shown)}*` } },
  ];
  const lines: string[] = [];
  for (const contact of found.contacts) {
    const who = [contact.name ?? '(no name)', contact.phone === undefined ? undefined : maskPhone(contact.phone)]
      .filter(Boolean)
      .join(' · ');
    if (contact.conversations.length === 0) {
      blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `${escapeMrkdwn(who)}: no WhatsApp conversation` }],
      });
      lines.push(`${who}: no WhatsApp conversation`);
      continue;
    }
    for (const conversation of contact.conversations.slice(0, 3)) {
      const window =
        conversation.windowOpen === undefined
          ? ''
          : conversation.windowOpen
            ? ' · window open'
            : ' · window closed (template only)';
      const text = `*${escapeMrkdwn(who)}*\n<${conversation.url}|#${conversation.id}> · ${escapeMrkdwn(conversation.status)}${window}${conversation.inbox === undefined ? '' : ` · ${escapeMrkdwn(conversation.inbox)}`}`;
      lines.push(`${who}: #${conversation.id} ${conversation.status}${window}`);
      blocks.push({
        type: 'section',
        text: { type: 'mrkdwn', text },
        accessory: {
          type: 'button',
          action_id: FIND_SEND_ACTION_ID,
          value: String(conversation.id),
          text: { type: 'plain_text', text: 'Send…' },
        },
      });
    }
  }
  if (found.more) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'More contacts match: refine the search.' }] });
  }
  return { response_type: 'ephemeral', text: lines.join('\n'), blocks: blocks.slice(0, 50) };
}
