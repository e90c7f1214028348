import Keyv from 'keyv';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallOptions } from '../../src/chatwoot/client.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createTemplateCatalogue, type TemplateCatalogueDeps } from '../../src/templates/template-catalogue.ts';
import { createLogSink, type LogSink } from '../helpers/log-sink.ts';
import { namedWelcome, orderUpdate, rejected } from './meta-templates.ts';

const OPTIONS: CallOptions = { lane: 'interactive' };
const TTL_MS = 60_000;
const broken = { name: 'broken', language: 'en', status: 'APPROVED', components: [] };

interface Harness {
  readonly deps: TemplateCatalogueDeps;
  readonly log: LogSink;
  /** What the inbox holds; change it to simulate a sync. */
  templates: unknown[];
  readonly calls: string[];
}

function harness(overrides: Partial<TemplateCatalogueDeps> & { cache: Keyv<unknown> }): Harness {
  const log = createLogSink('debug');
  const state: Harness = {
    log,
    templates: [orderUpdate, rejected, broken],
    calls: [],
    deps: {
      loadInbox: async () => {
        state.calls.push('loadInbox');
        return { id: 7, messageTemplates: structuredClone(state.templates) };
      },
      syncTemplates: async (inboxId) => {
        state.calls.push(`syncTemplates ${inboxId}`);
      },
      ttlMs: TTL_MS,
      logger: log.logger,
      ...overrides,
    },
  };
  return state;
}

describe('createTemplateCatalogue', () => {
  let store: Store;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 10, 26, 12));
    store = await openStore('memory://', { logger: createLogSink().logger });
  });

  afterEach(async () => {
    vi.useRealTimers();
    await store.close();
  });

  it('reads the inbox once and serves the list from the cache within the TTL', async () => {
    const h = harness({ cache: store.namespace('templates') });
    const catalogue = createTemplateCatalogue(h.deps);

    expect((await catalogue.list(OPTIONS)).map((t) => t.name)).toEqual(['order_update']);
    vi.advanceTimersByTime(TTL_MS - 1);
    expect((await catalogue.list(OPTIONS)).map((t) => t.name)).toEqual(['order_update']);
    expect(h.calls).toEqual(['loadInbox']);

    h.templates = [orderUpdate, namedWelcome];
    vi.advanceTimersByTime(2);
    expect((await catalogue.list(OPTIONS)).map((t) => t.name)).toEqual(['order_update', 'welcome_named']);
    expect(h.calls).toEqual(['loadInbox', 'loadInbox']);
  });

  it('shares the cache between catalogues on the same store (another process, a restart)', async () => {
    const first = harness({ cache: store.namespace('templates') });
    await createTemplateCatalogue(first.deps).list(OPTIONS);
    const second = harness({ cache: store.namespace('templates') });
    expect(await createTemplateCatalogue(second.deps).list(OPTIONS)).toHaveLength(1);
    expect(second.calls).toEqual([]);
  });

  it('logs the skipped templates once per read of the inbox, at warn', async () => {
    const h = harness({ cache: store.namespace('templates') });
    const catalogue = createTemplateCatalogue(h.deps);
    await catalogue.list(OPTIONS);
    await catalogue.list(OPTIONS);
    const warnings = h.log.lines().filter((line) => line['level'] === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      inboxId: 7,
      skipped: [{ name: 'broken (en)', reason: 'it has no body text' }],
      msg: expect.stringContaining('broken (en): it has no body text'),
    });
  });

  it('refresh without sync re-reads the inbox at once and updates the cache', async () => {
    const h = harness({ cache: store.namespace('templates') });
    const catalogue = createTemplateCatalogue(h.deps);
    await catalogue.list(OPTIONS);
    h.templates = [orderUpdate, namedWelcome];

    const refreshed = await catalogue.refresh({ ...OPTIONS, syncFromMeta: false });
    expect(refreshed.synced).toBe(false);
    expect(refreshed.templates.map((t) => t.name)).toEqual(['order_update', 'welcome_named']);
    expect(refreshed.notice).toContain('administrator');
    expect(h.calls).toEqual(['loadInbox', 'loadInbox']);

    expect(await catalogue.list(OPTIONS)).toHaveLength(2);
    expect(h.calls).toHaveLength(2);
  });

  it('refresh with sync asks Chatwoot to sync the cached inbox, then re-reads it and says the sync is async', async () => {
    const h = harness({ cache: store.namespace('templates') });
    const catalogue = createTemplateCatalogue(h.deps);
    await catalogue.list(OPTIONS);

    const refreshed = await catalogue.refresh({ ...OPTIONS, syncFromMeta: true });
    expect(h.calls).toEqual(['loadInbox', 'syncTemplates 7', 'loadInbox']);
    expect(refreshed).toMatchObject({ synced: true, notice: expect.stringContaining('refresh again in a minute') });
    expect(refreshed.templates).toHaveLength(1);
  });

  it('refresh with sync and nothing cached reads the inbox id first', async () => {
    const h = harness({ cache: store.namespace('templates') });
    await createTemplateCatalogue(h.deps).refresh({ ...OPTIONS, syncFromMeta: true });
    expect(h.calls).toEqual(['loadInbox', 'syncTemplates 7', 'loadInbox']);
  });

  it('a failed sync still re-reads the inbox and says what happened', async () => {
    const h = harness({
      cache: store.namespace('templates'),
      syncTemplates: async () => {
        throw new Error('Chatwoot answered 401: You are not authorized to do this action');
      },
    });
    const refreshed = await createTemplateCatalogue(h.deps).refresh({ ...OPTIONS, syncFromMeta: true });
    expect(refreshed.synced).toBe(false);
    expect(refreshed.templates).toHaveLength(1);
    expect(refreshed.notice).toBe(
      'Chatwoot did not start the sync from Meta (Chatwoot answered 401: You are not authorized to do this action); ' +
        'listed the templates it already has. Try again later.',
    );
  });

  it('a TTL of 0 reads the inbox every time', async () => {
    const h = harness({ cache: store.namespace('templates'), ttlMs: 0 });
    const catalogue = createTemplateCatalogue(h.deps);
    await catalogue.list(OPTIONS);
    await catalogue.list(OPTIONS);
    expect(h.calls).toEqual(['loadInbox', 'loadInbox']);
  });

  it('works on when the cache fails, reading the inbox instead', async () => {
    const cache = new Keyv<unknown>();
    const failing = () => Promise.reject(new Error('store down'));
    vi.spyOn(cache, 'get').mockImplementation(failing);
    vi.spyOn(cache, 'set').mockImplementation(failing);
    const h = harness({ cache });
    expect(await createTemplateCatalogue(h.deps).list(OPTIONS)).toHaveLength(1);
    expect(h.log.lines().filter((line) => line['level'] === 40)).toHaveLength(3);
  });
});
