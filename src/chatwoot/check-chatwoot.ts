import type { InboxDirectory } from '../conversations/inbox-directory.ts';
import { ResolveError } from '../conversations/resolve-error.ts';
import type { CallOptions, ChatwootClient } from './client.ts';
import { ChatwootError } from './errors.ts';

/** Chatwoot releases that changed what the bridge relies on (first tag with the feature). */
const FEATURES: ReadonlyArray<{ since: string; what: string }> = [
  { since: '2.17.0', what: 'phone lookups by WhatsApp id (older versions fall back to a slower contact search)' },
  {
    since: '4.1.0',
    what: 'the 24-hour window flag `can_reply` (older versions: the bridge reads message history instead)',
  },
  { since: '4.11.2', what: 'signed webhooks (older ones send unsigned webhooks, which the bridge will not trust)' },
];

export interface CheckStep {
  readonly ok: boolean;
  readonly label: string;
  readonly detail: string;
  /** The stable code of the failure, for exit codes. */
  readonly code?: string;
}

export interface ChatwootCheck {
  readonly ok: boolean;
  /** Chatwoot could not be reached at all (as opposed to refusing us). */
  readonly unreachable: boolean;
  readonly version: string | undefined;
  readonly role: string | undefined;
  readonly steps: readonly CheckStep[];
  readonly warnings: readonly string[];
}

/**
 * What startup and `check` verify: Chatwoot answers (and its version), the token is a user's and belongs to the
 * configured account (and with which role), and the WhatsApp inbox is found.
 */
export async function checkChatwoot(
  deps: { client: ChatwootClient; inboxes: InboxDirectory; baseUrl: string },
  callOptions: CallOptions,
): Promise<ChatwootCheck> {
  const { client, inboxes } = deps;
  const steps: CheckStep[] = [];
  const warnings: string[] = [];
  const failed = (label: string, error: unknown): CheckStep => ({
    ok: false,
    label,
    detail: error instanceof ChatwootError || error instanceof ResolveError ? error.message : String(error),
    code: error instanceof ChatwootError || error instanceof ResolveError ? error.code : 'internal_error',
  });

  let version: string | undefined;
  try {
    const info = await client.apiInfo(callOptions);
    version = info.version;
    const services = [info.data_services, info.queue_services];
    const degraded = services.some((state) => state !== undefined && state !== 'ok');
    steps.push({
      ok: true,
      label: 'Chatwoot reachable',
      detail: `${deps.baseUrl} answers, version ${info.version}${degraded ? ' (its database or queue reports problems)' : ''}`,
    });
    if (degraded) {
      warnings.push(
        `Chatwoot reports data_services=${info.data_services ?? '?'} queue_services=${info.queue_services ?? '?'}: messages may not go out.`,
      );
    }
    for (const feature of FEATURES) {
      if (compareVersions(info.version, feature.since) < 0) {
        warnings.push(`Chatwoot ${info.version} predates ${feature.since}, which added ${feature.what}.`);
      }
    }
  } catch (error) {
    steps.push(failed('Chatwoot reachable', error));
    return { ok: false, unreachable: true, version, role: undefined, steps, warnings };
  }

  let role: string | undefined;
  try {
    const profile = await client.profile(callOptions);
    const account = profile.accounts.find((candidate) => candidate.id === client.accountId);
    if (account === undefined) {
      steps.push({
        ok: false,
        label: 'Token and account',
        code: 'unauthorized',
        detail:
          `The token belongs to ${profile.name}, who is not a member of account ${client.accountId} ` +
          `(their accounts: ${profile.accounts.map((a) => `${a.id} "${a.name}"`).join(', ') || 'none'}). ` +
          'Set CHATWOOT_ACCOUNT_ID to one of them, or add the user to that account.',
      });
    } else if (account.status !== undefined && account.status !== 'active') {
      steps.push({
        ok: false,
        label: 'Token and account',
        code: 'unauthorized',
        detail: `Account ${account.id} "${account.name}" is ${account.status}: ask the Chatwoot administrator to reactivate it.`,
      });
    } else {
      role = account.role;
      steps.push({
        ok: true,
        label: 'Token and account',
        detail: `token of ${profile.name} (${account.role}) in account ${account.id} "${account.name}"`,
      });
      if (account.role !== 'administrator') {
        warnings.push(
          `The token's user is an ${account.role}: it sees only the inboxes it is a member of, and cannot register webhooks or sync templates (an administrator's token can).`,
        );
      }
    }
  } catch (error) {
    steps.push(failed('Token and account', error));
    return { ok: false, unreachable: false, version, role, steps, warnings };
  }
  if (steps.some((step) => !step.ok)) return { ok: false, unreachable: false, version, role, steps, warnings };

  try {
    const inbox = await inboxes.whatsappInbox(callOptions);
    steps.push({
      ok: true,
      label: 'WhatsApp inbox',
      detail: `inbox ${inbox.id} "${inbox.name}"${inbox.phone_number === undefined ? '' : ` (${inbox.phone_number})`}, ${
        inbox.channel === 'twilio_whatsapp'
          ? 'Twilio WhatsApp'
          : `WhatsApp ${inbox.provider === 'default' ? '360dialog' : 'Cloud API'}`
      }${inbox.lock_to_single_conversation ? ', one conversation per contact' : ''}`,
    });
  } catch (error) {
    steps.push(failed('WhatsApp inbox', error));
  }
  return { ok: steps.every((step) => step.ok), unreachable: false, version, role, steps, warnings };
}

/** Compares dotted versions numerically ('4.9.0' < '4.15.1'); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const parse = (value: string) => value.split(/[.+-]/).map((part) => Number.parseInt(part, 10) || 0);
  const left = parse(a);
  const right = parse(b);
  for (let index = 0; index < Math.max(left.length, right.length); index += 1) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}
