import { createHash } from 'node:crypto';
import type { App, BlockAction, ViewSubmitAction } from '@slack/bolt';
import type { View } from '@slack/types';
import { type Bridge, SubmitError } from '../bridge.ts';
import type { CallOptions } from '../chatwoot/client.ts';
import { ChatwootBusyError, isChatwootError } from '../chatwoot/errors.ts';
import { mentionIds, slackToCommonMark } from '../compose/slack-to-commonmark.ts';
import type { Config } from '../config/load-config.ts';
import { findContacts, readFindQuery } from '../conversations/find-contacts.ts';
import type { ConversationReference } from '../conversations/reference/parse-reference.ts';
import { maskPhone } from '../conversations/reference/phone.ts';
import type { ResolvedConversation } from '../conversations/resolve-conversation.ts';
import { ResolveError } from '../conversations/resolve-error.ts';
import { checkMedia } from '../delivery/media.ts';
import type { SendContent } from '../delivery/send-record.ts';
import type { Logger } from '../shared/logger.ts';
import { fillTeamTemplate, type TeamTemplate } from '../templates/team-templates.ts';
import type { TemplateCatalogue } from '../templates/template-catalogue.ts';
import {
  describeTemplate,
  fillTemplate,
  templateContent,
  type WhatsAppTemplate,
} from '../templates/whatsapp-templates.ts';
import { checkPermission, ENTRY_POINTS } from './entry-points.ts';
import { escapeMrkdwn } from './render.ts';
import type { ThreadReporter } from './thread-reporter.ts';

export const SEND_MODAL_CALLBACK_ID = 'whatsapp_send_modal';
export const GLOBAL_SHORTCUT_ID = 'send_whatsapp';
export const MESSAGE_SHORTCUT_ID = 'send_to_whatsapp';

/** Block and action ids: kept stable across updates so Slack keeps what people typed. */
const B = {
  conversation: 'conversation',
  kind: 'kind',
  text: 'text',
  team: 'team_template',
  whatsapp: 'wa_template',
  channel: 'channel',
  tools: 'tools',
  preview: 'preview',
} as const;
const VAR_PREFIX = 'var:';
const ACTION = { preview: 'preview', refresh: 'refresh_templates' } as const;

type Kind = 'text' | 'team' | 'whatsapp';

/** What the form carries between requests (Slack's `private_metadata`, at most 3,000 characters). */
export interface ModalMetadata {
  /** Message shortcut: the result goes in that message's thread. */
  readonly thread?: { readonly channel: string; readonly ts: string };
  /** Retry from an alert with a template: the result goes in the original send's thread. */
  readonly retryOf?: { readonly sendId: string; readonly alertTs: string };
  readonly responseUrl?: string;
  /** Preselected result channel (where `find` was used). */
  readonly channel?: string;
  /** Preselected conversation: `{ value: 'c:57', label }`. */
  readonly conversation?: { readonly value: string; readonly label: string };
  readonly kind?: Kind;
  readonly text?: string;
  /** The message shortcut's message had files: each goes as its own WhatsApp message (the text as first caption). */
  readonly files?: ReadonlyArray<{
    readonly name: string;
    readonly mimetype: string;
    readonly size: number;
    readonly url: string;
  }>;
  /** Set once the first view is shown (for the loading view). */
  readonly loaded?: boolean;
}

export interface SendModalDeps {
  readonly config: Pick<Config, 'slack' | 'chatwoot' | 'defaultPhoneRegion'>;
  readonly bridge: Pick<Bridge, 'submit' | 'resolver' | 'client'>;
  readonly reporter: ThreadReporter;
  readonly catalogue: TemplateCatalogue;
  readonly teamTemplates: readonly TeamTemplate[];
  /** The Chatwoot token is an administrator's: a refresh may ask Chatwoot to sync templates from Meta. */
  readonly isAdministrator: () => Promise<boolean>;
  /** A retry opened through the form was cancelled: give the alert's claim back. */
  readonly releaseRetry: (alertTs: string, sendId: string) => Promise<void>;
  /** Display names of mentioned users (bounded in time), for the message shortcut's prefilled text. */
  readonly userNames: (ids: readonly string[]) => Promise<Record<string, string>>;
  readonly logger: Logger;
}

const LOOKUP: CallOptions = { lane: 'interactive', deadlineMs: 2_000 };
/**
 * One deadline for everything an answer to Slack needs (it waits 3 s), however many requests that takes; running out
 * only skips a pre-check or an option, since the core checks again before sending.
 */
const ANSWER_WITHIN_MS = 2_300;
function withinAnswer(): CallOptions {
  return { lane: 'interactive', deadlineMs: ANSWER_WITHIN_MS, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) };
}
/** The shared deadline ran out (the request was abandoned, not refused). */
function timedOut(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}
/** Slack allows 100 options per select, 75 characters of option text, 150 of an option's value. */
const MAX_OPTIONS = 100;

interface FormState {
  readonly conversation: string | undefined;
  readonly kind: Kind;
  readonly text: string | undefined;
  readonly team: string | undefined;
  readonly whatsapp: string | undefined;
  readonly channel: string | undefined;
  readonly values: Readonly<Record<string, string>>;
}

type StateValues = Record<
  string,
  Record<
    string,
    { value?: string | null; selected_option?: { value: string } | null; selected_conversation?: string | null }
  >
>;

function readState(values: StateValues | undefined, metadata: ModalMetadata): FormState {
  const field = (block: string) => values?.[block]?.[block];
  const vars: Record<string, string> = {};
  for (const [block, actions] of Object.entries(values ?? {})) {
    if (!block.startsWith(VAR_PREFIX)) continue;
    const value = actions[block]?.value;
    if (typeof value === 'string') vars[block.slice(VAR_PREFIX.length)] = value;
  }
  const kind = field(B.kind)?.selected_option?.value;
  return {
    conversation: field(B.conversation)?.selected_option?.value ?? metadata.conversation?.value,
    kind: kind === 'team' || kind === 'whatsapp' || kind === 'text' ? kind : (metadata.kind ?? 'text'),
    text: field(B.text)?.value ?? undefined,
    team: field(B.team)?.selected_option?.value ?? undefined,
    whatsapp: field(B.whatsapp)?.selected_option?.value ?? undefined,
    channel: field(B.channel)?.selected_conversation ?? metadata.channel,
    values: vars,
  };
}

const plain = (text: string) => ({ type: 'plain_text' as const, text: text.slice(0, 75), emoji: true });
const option = (text: string, value: string) => ({ text: plain(text), value: value.slice(0, 150) });

/** A template's option value: short and stable (Meta's names may be longer than Slack's 150-character values). */
export function templateValue(template: Pick<WhatsAppTemplate, 'name' | 'language'>): string {
  return `t:${createHash('sha256').update(`${template.name}\u0000${template.language}`).digest('base64url').slice(0, 22)}`;
}

/**
 * The "Send WhatsApp message" form: to whom (searching Chatwoot as you type), free text, a team snippet or an
 * approved WhatsApp template with exactly the fields it needs, a preview, and where the result thread goes.
 */
export function buildSendView(input: {
  metadata: ModalMetadata;
  state: FormState;
  templates: readonly WhatsAppTemplate[] | undefined;
  teamTemplates: readonly TeamTemplate[];
  defaultChannel: string | undefined;
  notice?: string;
  preview?: string;
}): View {
  const { metadata, state, templates, teamTemplates } = input;
  const blocks: unknown[] = [];
  const initial = metadata.conversation;
  blocks.push({
    type: 'input',
    block_id: B.conversation,
    label: plain('To'),
    element: {
      type: 'external_select',
      action_id: B.conversation,
      min_query_length: 2,
      placeholder: plain('Name, phone, email, or conversation id'),
      ...(initial === undefined ? {} : { initial_option: option(initial.label, initial.value) }),
    },
  });
  const kinds: Array<[Kind, string]> = [['text', 'Free text (the customer wrote in the last 24 h)']];
  if (teamTemplates.length > 0) kinds.push(['team', 'A team snippet (templates.yml)']);
  if (templates === undefined || templates.length > 0) kinds.push(['whatsapp', 'An approved WhatsApp template']);
  const kind = kinds.some(([value]) => value === state.kind) ? state.kind : 'text';
  const kindOption = kinds.find(([value]) => value === kind) ?? kinds[0];
  blocks.push({
    type: 'input',
    block_id: B.kind,
    dispatch_action: true,
    label: plain('Message'),
    element: {
      type: 'radio_buttons',
      action_id: B.kind,
      options: kinds.map(([value, text]) => option(text, value)),
      ...(kindOption === undefined ? {} : { initial_option: option(kindOption[1], kindOption[0]) }),
    },
  });

  if (kind === 'text') {
    blocks.push({
      type: 'input',
      block_id: B.text,
      label: plain('Text'),
      element: {
        type: 'plain_text_input',
        action_id: B.text,
        multiline: true,
        max_length: 3000,
        ...(metadata.text === undefined ? {} : { initial_value: metadata.text.slice(0, 3000) }),
      },
      hint: plain('Slack formatting works: *bold*, _italic_, ~strike~, :emoji:.'),
    });
  } else if (kind === 'team') {
    const chosen = teamTemplates.find((template) => template.name === state.team);
    blocks.push({
      type: 'input',
      block_id: B.team,
      dispatch_action: true,
      label: plain('Snippet'),
      element: {
        type: 'static_select',
        action_id: B.team,
        options: teamTemplates.slice(0, MAX_OPTIONS).map((template) => option(template.name, template.name)),
        ...(chosen === undefined ? {} : { initial_option: option(chosen.name, chosen.name) }),
      },
    });
    if (chosen !== undefined) {
      blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: chosen.text.slice(0, 2000) }] });
      for (const variable of chosen.variables) {
        blocks.push(variableInput(variable, `{{${variable}}}`, undefined));
      }
    }
  } else {
    const list = templates ?? [];
    const chosen = list.find((template) => templateValue(template) === state.whatsapp);
    if (templates === undefined) {
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: ':hourglass_flowing_sand: Loading templates…' } });
    } else {
      blocks.push({
        type: 'input',
        block_id: B.whatsapp,
        dispatch_action: true,
        label: plain('Template'),
        element: {
          type: 'static_select',
          action_id: B.whatsapp,
          options: list
            .slice(0, MAX_OPTIONS)
            .map((template) =>
              option(
                `${template.name} (${template.language}${template.category === undefined ? '' : `, ${template.category}`})`,
                templateValue(template),
              ),
            ),
          ...(chosen === undefined
            ? {}
            : {
                initial_option: option(
                  `${chosen.name} (${chosen.language}${chosen.category === undefined ? '' : `, ${chosen.category}`})`,
                  templateValue(chosen),
                ),
              }),
        },
      });
    }
    if (chosen !== undefined) {
      blocks.push({
        type: 'context',
        elements: [{ type: 'plain_text', text: describeTemplate(chosen).slice(0, 2000) }],
      });
      for (const variable of chosen.variables) {
        blocks.push(variableInput(variable.key, variable.label, variable.example, variable.optional === true));
      }
    }
  }
  blocks.push({
    type: 'actions',
    block_id: B.tools,
    elements: [
      { type: 'button', action_id: ACTION.preview, text: plain('Preview') },
      ...(kind === 'whatsapp' ? [{ type: 'button', action_id: ACTION.refresh, text: plain('Refresh templates') }] : []),
    ],
  });
  if (input.preview !== undefined) {
    blocks.push({
      type: 'section',
      block_id: B.preview,
      text: { type: 'mrkdwn', text: `*Preview*\n${input.preview}`.slice(0, 3000) },
    });
  }
  if (input.notice !== undefined) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: input.notice.slice(0, 2000) }] });
  }
  if (metadata.files !== undefined && metadata.files.length > 0 && kind === 'text') {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `:paperclip: Sent with it, one WhatsApp message each (the text as the first one's caption): ${metadata.files
            .map((file) => escapeMrkdwn(file.name))
            .join(', ')}`.slice(0, 2000),
        },
      ],
    });
  }
  if (metadata.thread !== undefined) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'The result goes in the thread of the message you picked.' }],
    });
  } else if (metadata.retryOf !== undefined) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'The result goes in the failed send’s thread.' }],
    });
  } else {
    const channel = state.channel ?? input.defaultChannel;
    blocks.push({
      type: 'input',
      block_id: B.channel,
      label: plain('Post the result in'),
      element: {
        type: 'conversations_select',
        action_id: B.channel,
        filter: { include: ['public', 'private', 'im'], exclude_bot_users: true },
        ...(channel === undefined ? {} : { initial_conversation: channel }),
      },
    });
  }
  return {
    type: 'modal',
    callback_id: SEND_MODAL_CALLBACK_ID,
    notify_on_close: metadata.retryOf !== undefined,
    title: plain('WhatsApp message'),
    submit: plain('Send'),
    close: plain('Cancel'),
    private_metadata: encodeMetadata({ ...metadata, loaded: true }),
    blocks: blocks.slice(0, 100),
  } as View;
}

function variableInput(key: string, label: string, example: string | undefined, optional = false): unknown {
  return {
    type: 'input',
    block_id: `${VAR_PREFIX}${key}`,
    optional,
    label: plain(label),
    element: {
      type: 'plain_text_input',
      action_id: `${VAR_PREFIX}${key}`,
      ...(example === undefined ? {} : { placeholder: plain(`e.g. ${example}`) }),
    },
  };
}

export function encodeMetadata(metadata: ModalMetadata): string {
  let text = JSON.stringify(metadata);
  if (text.length > 3000 && metadata.text !== undefined) {
    // The prefilled text only seeds the field; it must not push the form over Slack's limit.
    text = JSON.stringify({
      ...metadata,
      text: metadata.text.slice(0, Math.max(0, 3000 - (text.length - metadata.text.length) - 10)),
    });
  }
  return text;
}

export function decodeMetadata(raw: string | undefined): ModalMetadata {
  if (raw === undefined || raw === '') return {};
  try {
    const value = JSON.parse(raw) as unknown;
    return typeof value === 'object' && value !== null ? (value as ModalMetadata) : {};
  } catch {
    return {};
  }
}

/** `c:57` → conversation 57; `p:+14155550123` → a number (maybe new). */
function referenceOf(value: string): ConversationReference | undefined {
  if (value.startsWith('c:')) {
    const id = Number(value.slice(2));
    return Number.isSafeInteger(id) && id > 0 ? { kind: 'id', conversationId: id, looksLikePhone: false } : undefined;
  }
  if (value.startsWith('p:')) return { kind: 'phone', e164: value.slice(2), country: undefined };
  return undefined;
}

/** What the form would send: the content, or field errors as Slack shows them. */
type Composed = { ok: true; content: SendContent; preview: string } | { ok: false; errors: Record<string, string> };

function compose(
  state: FormState,
  templates: readonly WhatsAppTemplate[],
  teamTemplates: readonly TeamTemplate[],
  hasFiles = false,
): Composed {
  if (state.kind === 'text') {
    const text = (state.text ?? '').trim();
    if (text === '' && !hasFiles) return { ok: false, errors: { [B.text]: 'Write the message.' } };
    // Text from a plain input arrives unescaped; the core reads Slack's escaped form.
    const escaped = escapeMrkdwn(state.text ?? '');
    return {
      ok: true,
      content: { kind: 'text', text: escaped },
      preview: quote(escapeMrkdwn(slackToCommonMark(escaped).whatsapp)),
    };
  }
  if (state.kind === 'team') {
    const template = teamTemplates.find((candidate) => candidate.name === state.team);
    if (template === undefined) return { ok: false, errors: { [B.team]: 'Choose a snippet.' } };
    const filled = fillTeamTemplate(template, state.values);
    if (!filled.ok) {
      return {
        ok: false,
        errors: Object.fromEntries(
          filled.problems.map((problem) => [`${VAR_PREFIX}${problem.key}`, problem.message.slice(0, 150)]),
        ),
      };
    }
    return {
      ok: true,
      content: { kind: 'text', text: filled.text },
      preview: quote(escapeMrkdwn(slackToCommonMark(filled.text).whatsapp)),
    };
  }
  const template = templates.find((candidate) => templateValue(candidate) === state.whatsapp);
  if (template === undefined) return { ok: false, errors: { [B.whatsapp]: 'Choose a template.' } };
  const filled = fillTemplate(template, state.values);
  if (!filled.ok) {
    return {
      ok: false,
      errors: Object.fromEntries(
        filled.problems.map((problem) => [`${VAR_PREFIX}${problem.key}`, problem.message.slice(0, 150)]),
      ),
    };
  }
  return { ok: true, content: templateContent(filled), preview: quote(escapeMrkdwn(filled.rendered)) };
}

function quote(text: string): string {
  return text
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
}

/**
 * The shortcuts, the form's live updates, its conversation search and its submission. Slack's rules: `views.open`
 * within 3 s of the trigger (so the form opens first and data loads after, into `views.update` with the view's
 * hash), options within 3 s, and errors shown on the fields (`response_action: errors`), never a silent failure.
 */
export function registerSendModal(
  app: App,
  deps: SendModalDeps,
): {
  open: (triggerId: string, metadata: ModalMetadata) => Promise<void>;
} {
  const { config, bridge, reporter, catalogue, teamTemplates, logger } = deps;
  const emptyState = (metadata: ModalMetadata): FormState => readState(undefined, metadata);

  const loadTemplates = async (
    callOptions: CallOptions = LOOKUP,
  ): Promise<{ templates: readonly WhatsAppTemplate[]; notice?: string; failed?: boolean }> => {
    try {
      return { templates: await catalogue.list(callOptions) };
    } catch (error) {
      logger.warn({ err: error }, 'could not read the WhatsApp templates');
      return {
        templates: [],
        failed: true,
        notice: ':warning: Chatwoot did not answer with the approved templates; try *Refresh templates*.',
      };
    }
  };

  const open = async (triggerId: string, metadata: ModalMetadata): Promise<void> => {
    // Open at once with what needs no lookup; the templates follow in an update.
    const opened = await app.client.views.open({
      trigger_id: triggerId,
      view: buildSendView({
        metadata,
        state: emptyState(metadata),
        templates: undefined,
        teamTemplates,
        defaultChannel: config.slack.defaultChannel,
      }),
    });
    const view = opened.view;
    if (view?.id === undefined) return;
    const { templates, notice } = await loadTemplates();
    await app.client.views
      .update({
        view_id: view.id,
        ...(view.hash === undefined ? {} : { hash: view.hash }),
        view: buildSendView({
          metadata,
          state: emptyState(metadata),
          templates,
          teamTemplates,
          defaultChannel: config.slack.defaultChannel,
          ...(notice === undefined ? {} : { notice }),
        }),
      })
      .catch((error: unknown) => logger.debug({ err: error }, 'the form changed before the templates arrived'));
  };

  app.shortcut(GLOBAL_SHORTCUT_ID, async ({ ack, shortcut }) => {
    await ack();
    await open(shortcut.trigger_id, {});
  });

  app.shortcut(MESSAGE_SHORTCUT_ID, async ({ ack, shortcut }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    const message = shortcut.message;
    const text = typeof message.text === 'string' ? message.text : '';
    const files = ((message['files'] as Array<Record<string, unknown>> | undefined) ?? [])
      .slice(0, 5)
      .flatMap((file) =>
        typeof file['url_private_download'] === 'string' && typeof file['name'] === 'string'
          ? [
              {
                name: file['name'],
                mimetype: typeof file['mimetype'] === 'string' ? file['mimetype'] : 'application/octet-stream',
                size: typeof file['size'] === 'number' ? file['size'] : 0,
                url: file['url_private_download'],
              },
            ]
          : [],
      );
    const ids = mentionIds(text).users;
    const names = ids.length === 0 ? {} : await deps.userNames(ids);
    await open(shortcut.trigger_id, {
      thread: { channel: shortcut.channel.id, ts: (message['thread_ts'] as string | undefined) ?? message.ts },
      responseUrl: shortcut.response_url,
      // What WhatsApp would show, as the core converts it: readable in a plain text field.
      text: slackToCommonMark(text, { names: { user: (id) => names[id] } }).whatsapp,
      ...(files.length === 0 ? {} : { files }),
    });
  });

  /** Any change in the form (kind, template, preview, refresh): rebuild it from what is filled in. */
  const rerender = async (body: BlockAction, extra: { preview?: boolean; refresh?: boolean }): Promise<void> => {
    const view = body.view;
    if (view === undefined) return;
    const metadata = decodeMetadata(view.private_metadata);
    const state = readState(view.state.values as StateValues, metadata);
    let notice: string | undefined;
    let templates: readonly WhatsAppTemplate[];
    if (extra.refresh === true) {
      const refreshed = await catalogue
        .refresh({ ...LOOKUP, syncFromMeta: await deps.isAdministrator().catch(() => false) })
        .catch((error: unknown) => {
          logger.warn({ err: error }, 'template refresh failed');
          return undefined;
        });
      templates = refreshed?.templates ?? (await loadTemplates()).templates;
      notice = refreshed?.notice ?? ':warning: Chatwoot did not answer; the list is unchanged.';
    } else {
      const loaded = await loadTemplates();
      templates = loaded.templates;
      notice = loaded.notice;
    }
    let preview: string | undefined;
    if (extra.preview === true) {
      const composed = compose(state, templates, teamTemplates);
      preview = composed.ok ? composed.preview : `:warning: ${Object.values(composed.errors).join(' ')}`;
    }
    await app.client.views.update({
      view_id: view.id,
      hash: view.hash,
      view: buildSendView({
        metadata,
        state,
        templates,
        teamTemplates,
        defaultChannel: config.slack.defaultChannel,
        ...(notice === undefined ? {} : { notice }),
        ...(preview === undefined ? {} : { preview }),
      }),
    });
  };

  for (const actionId of [B.kind, B.team, B.whatsapp]) {
    app.action<BlockAction>({ action_id: actionId, type: 'block_actions' }, async ({ ack, body }) => {
      await ack();
      await rerender(body, {});
    });
  }
  app.action<BlockAction>({ action_id: ACTION.preview, type: 'block_actions' }, async ({ ack, body }) => {
    await ack();
    await rerender(body, { preview: true });
  });
  app.action<BlockAction>({ action_id: ACTION.refresh, type: 'block_actions' }, async ({ ack, body }) => {
    await ack();
    await rerender(body, { refresh: true });
  });

  app.options(B.conversation, async ({ ack, options }) => {
    await ack({ options: await conversationOptions(options.value) });
  });

  const conversationOptions = async (typed: string) => {
    const query = typed.trim();
    const within = withinAnswer();
    const id = /^#?(\d{1,9})$/.exec(query)?.[1];
    const read = query.startsWith('#') ? undefined : readFindQuery(query, config);
    // The id and the search at once: together they must fit in Slack's 3 s.
    const [byId, bySearch] = await Promise.all([
      id === undefined
        ? Promise.resolve(undefined)
        : bridge.resolver.resolve({ kind: 'id', conversationId: Number(id), looksLikePhone: false }, within).then(
            (facts) =>
              option(
                conversationLabel(facts.conversationId, facts.contactName, facts.contactPhone, facts.window.open),
                `c:${id}`,
              ),
            () => option(`Conversation #${id}`, `c:${id}`),
          ),
      read?.ok === true
        ? findContacts(bridge.client, read.value, config, within).then(
            (found) => ({ found, failed: false }),
            (error: unknown) => {
              logger.debug({ err: error }, 'conversation search for the form failed');
              return { found: undefined, failed: true };
            },
          )
        : Promise.resolve(undefined),
    ]);
    const out: Array<ReturnType<typeof option>> = byId === undefined ? [] : [byId];
    if (read?.ok === true && bySearch !== undefined) {
      for (const contact of bySearch.found?.contacts ?? []) {
        for (const conversation of contact.conversations) {
          if (conversation.id === Number(id)) continue;
          out.push(
            option(
              conversationLabel(
                conversation.id,
                contact.name,
                contact.phone,
                conversation.windowOpen,
                conversation.status,
              ),
              `c:${conversation.id}`,
            ),
          );
        }
      }
      const known = bySearch.found?.contacts.some((contact) => contact.conversations.length > 0) === true;
      if (read.value.isPhone && !known) {
        out.push(
          option(
            bySearch.failed ? read.value.searchFor : `New conversation with ${read.value.searchFor} (template only)`,
            `p:${read.value.searchFor}`,
          ),
        );
      }
    }
    return out.slice(0, MAX_OPTIONS);
  };

  app.view<ViewSubmitAction>(SEND_MODAL_CALLBACK_ID, async ({ ack, body, view }) => {
    const metadata = decodeMetadata(view.private_metadata);
    const state = readState(view.state.values as StateValues, metadata);
    const userId = body.user.id;
    const errors = (fields: Record<string, string>) => ack({ response_action: 'errors', errors: fields });

    const resultChannel = metadata.thread?.channel ?? state.channel;
    if (metadata.thread === undefined && metadata.retryOf === undefined && resultChannel === undefined) {
      await errors({ [B.channel]: 'Choose where the result goes.' });
      return;
    }
    const permission = checkPermission(config.slack, { userId, channelId: resultChannel });
    if (!permission.ok) {
      await errors({
        [metadata.thread === undefined && metadata.retryOf === undefined ? B.channel : B.conversation]:
          permission.message.slice(0, 150),
      });
      return;
    }
    const reference = state.conversation === undefined ? undefined : referenceOf(state.conversation);
    if (reference === undefined) {
      await errors({ [B.conversation]: 'Choose who the message goes to.' });
      return;
    }
    // Both lookups at once, under one deadline: Slack waits 3 s for this answer.
    const within = withinAnswer();
    const [problem, loaded] = await Promise.all([
      conversationProblem(reference, state.kind === 'whatsapp', within),
      state.kind === 'whatsapp' ? loadTemplates(within) : Promise.resolve({ templates: [], failed: false }),
    ]);
    if (state.kind === 'whatsapp' && loaded.failed === true) {
      await errors({
        [B.whatsapp]: 'Chatwoot did not answer with the templates in time; nothing was sent. Try again.',
      });
      return;
    }
    const files = state.kind === 'text' ? (metadata.files ?? []) : [];
    const composed = compose(state, loaded.templates, teamTemplates, files.length > 0);
    if (!composed.ok || problem !== undefined) {
      await errors({ ...(composed.ok ? {} : composed.errors), ...problem });
      return;
    }
    // The message's files, each its own WhatsApp message, the text as the first one's caption: all checked first.
    const contents: SendContent[] = [];
    const refused: string[] = [];
    for (const [index, file] of files.entries()) {
      const caption = composed.content.kind === 'text' && index === 0 ? composed.content.text : '';
      const content: SendContent = {
        kind: 'file',
        fileName: file.name,
        mimeType: file.mimetype,
        size: file.size,
        source: file.url,
        ...(caption.trim() === '' ? {} : { caption }),
      };
      const media = checkMedia(content);
      if (!media.ok) refused.push(media.message);
      contents.push(content);
    }
    if (refused.length > 0) {
      await errors({ [B.text]: `Nothing was sent: ${refused.join(' ')}`.slice(0, 150) });
      return;
    }
    if (contents.length === 0) contents.push(composed.content);
    try {
      const submitted = [];
      for (const [index, content] of contents.entries()) {
        submitted.push(
          await bridge.submit({
            idempotencyKey: `${ENTRY_POINTS.modalSubmission.key(view)}${index === 0 ? '' : `:file:${index}`}`,
            reference,
            content,
            requestedBy: {
              via: ENTRY_POINTS.modalSubmission.via,
              userId,
              ...(resultChannel === undefined ? {} : { channelId: resultChannel }),
            },
          }),
        );
      }
      await ack();
      const [first] = submitted;
      if (first === undefined || first.duplicate) return;
      const { record } = first;
      if (metadata.thread !== undefined) {
        for (const extra of submitted.slice(1)) {
          await reporter.openUnder(
            extra.record,
            { channel: metadata.thread.channel, threadTs: metadata.thread.ts, userId },
            `<@${userId}> → WhatsApp: `,
          );
        }
      }
      if (metadata.retryOf !== undefined) {
        const original = await reporter.get(metadata.retryOf.sendId);
        if (original?.rootTs !== undefined) {
          await reporter.openInThread(record, original, `Retry by <@${userId}>: `);
          return;
        }
      }
      if (metadata.thread !== undefined) {
        await reporter.openUnder(
          record,
          { channel: metadata.thread.channel, threadTs: metadata.thread.ts, userId, responseUrl: metadata.responseUrl },
          `<@${userId}> → WhatsApp: `,
        );
        return;
      }
      await reporter.open(record, { channel: resultChannel ?? userId, userId, responseUrl: metadata.responseUrl });
    } catch (error) {
      logger.error({ err: error }, 'could not store a send from the form');
      const message =
        error instanceof SubmitError
          ? error.message
          : 'The message could not be stored, so nothing was sent. Try again.';
      await errors({
        [composed.content.kind === 'text' && state.kind === 'text' ? B.text : B.kind]: message.slice(0, 150),
      });
    }
  });

  app.view({ callback_id: SEND_MODAL_CALLBACK_ID, type: 'view_closed' }, async ({ ack, view }) => {
    await ack();
    const metadata = decodeMetadata(view.private_metadata);
    if (metadata.retryOf !== undefined) await deps.releaseRetry(metadata.retryOf.alertTs, metadata.retryOf.sendId);
  });

  /**
   * Field errors for what WhatsApp would refuse: a conversation that is not WhatsApp (or does not exist), and, for
   * free text, a closed window or a number with no conversation yet (a template may start one).
   */
  const conversationProblem = async (
    reference: ConversationReference,
    template: boolean,
    within: CallOptions,
  ): Promise<Record<string, string> | undefined> => {
    let facts: ResolvedConversation;
    try {
      facts = await bridge.resolver.resolve(reference, within);
    } catch (error) {
      if (timedOut(error)) return undefined;
      if (error instanceof ResolveError) {
        if (error.code === 'unknown_number') {
          return template
            ? undefined
            : { [B.kind]: 'This number has no conversation yet: only an approved WhatsApp template can start one.' };
        }
        return { [B.conversation]: error.summary.slice(0, 150) };
      }
      // Chatwoot slow or down: the core checks again before sending, and the thread will say.
      if (error instanceof ChatwootBusyError || isChatwootError(error)) return undefined;
      throw error;
    }
    if (!template && !facts.window.open) {
      return {
        [B.kind]:
          'The 24-hour window is closed (the customer has not written in 24 hours): choose an approved WhatsApp template.',
      };
    }
    return undefined;
  };

  return { open };
}

function conversationLabel(
  id: number,
  name: string | undefined,
  phone: string | undefined,
  windowOpen: boolean | undefined,
  status?: string,
): string {
  const parts = [
    name ?? 'No name',
    phone === undefined ? undefined : maskPhone(phone),
    `#${id}`,
    status === undefined || status === 'open' ? undefined : status,
    windowOpen === undefined ? undefined : windowOpen ? 'window open' : 'template only',
  ];
  return parts.filter(Boolean).join(' · ');
}
