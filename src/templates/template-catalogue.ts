import type Keyv from 'keyv';
import { z } from 'zod';
import type { CallOptions } from '../chatwoot/client.ts';
import type { Logger } from '../shared/logger.ts';
import { parseTemplates, type WhatsAppTemplate } from './whatsapp-templates.ts';

export interface TemplateRefresh {
  readonly templates: readonly WhatsAppTemplate[];
  /** Chatwoot accepted the request to sync from Meta (it runs in the background). */
  readonly synced: boolean;
  /** What happened, in plain words, for the person who asked. */
  readonly notice: string;
}

export interface TemplateCatalogue {
  /** The approved templates of the WhatsApp inbox, cached for `ttlMs`, read from Chatwoot's inbox list on a miss. */
  list(options: CallOptions): Promise<readonly WhatsAppTemplate[]>;
  /**
   * Re-reads the inbox now; with `syncFromMeta` (the token is an administrator's) first asks Chatwoot to sync from
   * Meta. That sync runs in the background, so the re-read may still show the old list: `notice` says so.
   */
  refresh(options: CallOptions & { readonly syncFromMeta: boolean }): Promise<TemplateRefresh>;
}

export interface TemplateCatalogueDeps {
  /** The WhatsApp inbox, with its `message_templates` as Chatwoot returns them. */
  readonly loadInbox: (options: CallOptions) => Promise<{ id: number; messageTemplates: unknown }>;
  /** `POST …/inboxes/{id}/sync_templates` (administrators only). */
  readonly syncTemplates: (inboxId: number, options: CallOptions) => Promise<void>;
  readonly cache: Keyv<unknown>;
  /** How long a read is reused (0 disables the cache). */
  readonly ttlMs: number;
  readonly logger: Logger;
}

const CACHE_KEY = 'whatsapp-templates';

/** Chatwoot's copy is cached as it came, and parsed on use: a newer bridge never trips over an older parse. */
const cachedSchema = z.object({ inboxId: z.number(), messageTemplates: z.unknown() });
type Cached = z.infer<typeof cachedSchema>;

export function createTemplateCatalogue(deps: TemplateCatalogueDeps): TemplateCatalogue {
  const { cache, ttlMs, logger } = deps;
  const caching = ttlMs > 0;

  const readCache = async (): Promise<Cached | undefined> => {
    if (!caching) return undefined;
    try {
      const parsed = cachedSchema.safeParse(await cache.get(CACHE_KEY));
      return parsed.success ? parsed.data : undefined;
    } catch (error) {
      logger.warn({ err: error }, 'Could not read the cached WhatsApp templates; reading them from Chatwoot.');
      return undefined;
    }
  };

  const writeCache = async (value: Cached): Promise<void> => {
    if (!caching) return;
    try {
      await cache.set(CACHE_KEY, value, ttlMs);
    } catch (error) {
      logger.warn({ err: error }, 'Could not cache the WhatsApp templates; they will be read from Chatwoot again.');
    }
  };

  const load = async (options: CallOptions): Promise<{ inboxId: number; templates: WhatsAppTemplate[] }> => {
    const inbox = await deps.loadInbox(options);
    const { templates, skipped } = parseTemplates(inbox.messageTemplates);
    if (skipped.length > 0) {
      logger.warn(
        { inboxId: inbox.id, skipped },
        `${skipped.length} approved WhatsApp template(s) of inbox ${inbox.id} cannot be sent through Chatwoot and are left out: ` +
          skipped.map((entry) => `${entry.name}: ${entry.reason}`).join('; '),
      );
    }
    logger.debug({ inboxId: inbox.id, templates: templates.length }, 'Read the WhatsApp templates from Chatwoot.');
    await writeCache({ inboxId: inbox.id, messageTemplates: inbox.messageTemplates });
    return { inboxId: inbox.id, templates };
  };

  return {
    async list(options) {
      const cached = await readCache();
      if (cached !== undefined) return parseTemplates(cached.messageTemplates).templates;
      return (await load(options)).templates;
    },

    async refresh({ syncFromMeta, ...options }) {
      if (!syncFromMeta) {
        const { templates } = await load(options);
        return {
          templates,
          synced: false,
          notice:
            'Re-read the templates Chatwoot has. Templates approved since Chatwoot last synced with Meta appear ' +
            'after an administrator syncs them in Chatwoot (the bridge can do it when its token is an administrator’s).',
        };
      }
      const inboxId = (await readCache())?.inboxId ?? (await deps.loadInbox(options)).id;
      let failure: string | undefined;
      try {
        await deps.syncTemplates(inboxId, options);
      } catch (error) {
        if (options.signal?.aborted === true) throw error;
        failure = error instanceof Error ? error.message : String(error);
        logger.warn({ err: error, inboxId }, 'Chatwoot did not start the template sync from Meta.');
      }
      const { templates } = await load(options);
      if (failure !== undefined) {
        return {
          templates,
          synced: false,
          notice: `Chatwoot did not start the sync from Meta (${failure}); listed the templates it already has. Try again later.`,
        };
      }
      return {
        templates,
        synced: true,
        notice:
          'Asked Chatwoot to sync the templates from Meta. The sync runs in the background, so this list may not ' +
          'show the newest changes yet: refresh again in a minute.',
      };
    },
  };
}
