import { access } from 'node:fs/promises';
import type { Bridge } from '../bridge.ts';
import type { Config } from '../config/load-config.ts';
import type { Logger } from '../shared/logger.ts';
import type { Store } from '../store/types.ts';
import { loadTeamTemplates, type TeamTemplate } from './team-templates.ts';
import { createTemplateCatalogue, type TemplateCatalogue } from './template-catalogue.ts';

/** Both kinds of template, as the Slack app uses them. */
export interface Templates {
  readonly catalogue: TemplateCatalogue;
  readonly team: readonly TeamTemplate[];
  /** The Chatwoot token is an administrator's (a refresh may then ask Chatwoot to sync from Meta). */
  readonly isAdministrator: () => Promise<boolean>;
}

/**
 * The team's snippets are read and checked once, at startup (every problem reported at once); the approved WhatsApp
 * templates are read from the inbox on first use and cached.
 */
export async function openTemplates(deps: {
  readonly config: Pick<Config, 'templates' | 'chatwoot'>;
  readonly bridge: Pick<Bridge, 'client' | 'inboxes'>;
  readonly store: Store;
  readonly logger: Logger;
}): Promise<{ ok: true; templates: Templates } | { ok: false; problems: string[] }> {
  const { config, bridge, store, logger } = deps;
  let team: TeamTemplate[] = [];
  const present = await access(config.templates.file).then(
    () => true,
    () => false,
  );
  if (present || config.templates.required) {
    const loaded = await loadTeamTemplates(config.templates.file);
    if (!loaded.ok) return { ok: false, problems: loaded.problems };
    team = loaded.templates;
    logger.info({ file: config.templates.file, count: team.length }, 'team templates loaded');
  }
  const catalogue = createTemplateCatalogue({
    loadInbox: async (options) => {
      const inbox = await bridge.inboxes.whatsappInbox(options);
      // The directory caches the inbox list; templates must be read fresh when the catalogue asks.
      const fresh = (await bridge.client.listInboxes(options)).find((candidate) => candidate.id === inbox.id);
      return { id: inbox.id, messageTemplates: fresh?.message_templates ?? inbox.message_templates };
    },
    syncTemplates: (inboxId, options) => bridge.client.syncTemplates(inboxId, options),
    cache: store.namespace<unknown>('whatsapp-templates'),
    ttlMs: config.templates.cacheTtlMs,
    logger,
  });
  const isAdministrator = async (): Promise<boolean> => {
    const profile = await bridge.client.profile({ lane: 'interactive', deadlineMs: 2_000 });
    return profile.accounts.some(
      (account) => account.id === config.chatwoot.accountId && account.role === 'administrator',
    );
  };
  return { ok: true, templates: { catalogue, team, isAdministrator } };
}
