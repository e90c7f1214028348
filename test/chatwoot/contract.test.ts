import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ChatwootClient, createChatwootClient } from '../../src/chatwoot/client.ts';
import { createRequestBudget } from '../../src/chatwoot/request-budget.ts';
import { markerFor, markerOf } from '../../src/delivery/reconcile.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { type FakeChatwoot, type RecordedRequest, startFakeChatwoot } from '../fakes/fake-chatwoot.ts';
import { createLogSink } from '../helpers/log-sink.ts';

/**
 * Every request the client can make, checked against Chatwoot's official OpenAPI spec (test/fixtures/chatwoot, see SOURCE.md):
 * the path and method exist, each query parameter and body field is declared, and enum values are allowed. Facts the
 * spec leaves out but Chatwoot's code has (shared/reference/chatwoot.md) are listed here, each with its source.
 */

interface Parameter {
  name: string;
  in: string;
  schema?: { enum?: unknown[] };
}
interface Operation {
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: { content: Record<string, { schema: SchemaObject }> };
}
interface SchemaObject {
  $ref?: string;
  properties?: Record<string, SchemaObject & { enum?: unknown[] }>;
  allOf?: SchemaObject[];
}
interface Spec {
  paths: Record<string, Record<string, Operation | Parameter[]>>;
  components: { parameters: Record<string, Parameter>; schemas: Record<string, SchemaObject> };
}

const spec = JSON.parse(readFileSync(new URL('../fixtures/chatwoot/swagger.json', import.meta.url), 'utf8')) as Spec;

/** Outside the spec, from Chatwoot's code. */
const NOT_IN_SPEC: Record<string, { reason: string; query?: string[] }> = {
  'GET /api': { reason: 'ApiController#index: version and service health, no auth (reference §7)' },
  'GET /api/v1/accounts/{account_id}/conversations': {
    reason: 'ConversationFinder#filter_by_source_id, in Chatwoot since 2.17.0 (reference §3.1)',
    query: ['source_id'],
  },
  'POST /api/v1/accounts/{account_id}/inboxes/{id}/sync_templates': {
    reason: 'InboxesController#sync_templates (admin): re-reads WhatsApp templates from Meta (reference §3.5)',
  },
};

/** Paths that only the exceptions above know. */
function exceptionPath(method: string, path: string): string | undefined {
  return Object.keys(NOT_IN_SPEC).find((key) => {
    const [keyMethod, template = ''] = key.split(' ');
    return keyMethod === method && new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path);
  });
}

/** The spec path a request is for; literal segments win over parameters (`/contacts/search` over `/contacts/{id}`). */
function matchPath(path: string): string | undefined {
  const parameters = (template: string) => template.split('{').length;
  return Object.keys(spec.paths)
    .filter((template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
    .sort((a, b) => parameters(a) - parameters(b))[0];
}

function resolveParameter(parameter: Parameter | { $ref: string }): Parameter {
  if ('$ref' in parameter) {
    const name = parameter.$ref.split('/').at(-1) ?? '';
    const resolved = spec.components.parameters[name];
    if (resolved === undefined) throw new Error(`unresolved ${parameter.$ref}`);
    return resolved;
  }
  return parameter;
}

function resolveSchema(schema: SchemaObject): SchemaObject {
  if (schema.$ref !== undefined) {
    const resolved = spec.components.schemas[schema.$ref.split('/').at(-1) ?? ''];
    if (resolved === undefined) throw new Error(`unresolved ${schema.$ref}`);
    return resolveSchema(resolved);
  }
  if (schema.allOf !== undefined) {
    return { properties: Object.assign({}, ...schema.allOf.map((part) => resolveSchema(part).properties)) };
  }
  return schema;
}

/** Problems with one recorded request; empty when it matches the spec (or a documented exception). */
function check(request: RecordedRequest): string[] {
  const template = request.path === '/api' ? '/api' : matchPath(request.path);
  const key = `${request.method} ${template}`;
  const exception = NOT_IN_SPEC[key];
  if (template === undefined) {
    return exceptionPath(request.method, request.path) === undefined
      ? [`${request.method} ${request.path}: no such path in the spec`]
      : [];
  }
  if (exception !== undefined && request.path === '/api') return [];
  const pathItem = spec.paths[template] ?? {};
  const operation = pathItem[request.method.toLowerCase()] as Operation | undefined;
  if (operation === undefined) return [`${key}: method not in the spec`];
  const problems: string[] = [];
  const declared = [
    ...((pathItem['parameters'] as Parameter[] | undefined) ?? []),
    ...(operation.parameters ?? []),
  ].map(resolveParameter);
  for (const [name, value] of Object.entries(request.query)) {
    const parameter = declared.find((candidate) => candidate.in === 'query' && candidate.name === name);
    if (parameter === undefined) {
      if (!(exception?.query ?? []).includes(name)) problems.push(`${key}: query "${name}" not in the spec`);
      continue;
    }
    const allowed = parameter.schema?.enum;
    if (allowed !== undefined && !allowed.includes(value))
      problems.push(`${key}: ${name}=${String(value)} not in ${allowed.join('|')}`);
  }
  if (request.body !== undefined && request.body !== null && typeof request.body === 'object') {
    const schema = operation.requestBody?.content['application/json']?.schema;
    if (schema === undefined) return [...problems, `${key}: sends a body the spec does not take`];
    const properties = resolveSchema(schema).properties ?? {};
    for (const [field, value] of Object.entries(request.body)) {
      const property = properties[field];
      if (property === undefined) problems.push(`${key}: body field "${field}" not in the spec`);
      else if (property.enum !== undefined && !property.enum.includes(value)) {
        problems.push(`${key}: ${field}=${String(value)} not in ${property.enum.join('|')}`);
      }
    }
  }
  return problems;
}

describe("the client's requests against Chatwoot's OpenAPI spec", () => {
  let fake: FakeChatwoot;
  let client: ChatwootClient;
  let conversationId: number;
  let contactId: number;
  let inboxId: number;

  beforeAll(async () => {
    fake = await startFakeChatwoot();
    const inbox = fake.addInbox({ name: 'WhatsApp', channelType: 'Channel::Whatsapp', provider: 'whatsapp_cloud' });
    inboxId = inbox.id;
    const contact = fake.addContact({ name: 'Jane', phoneNumber: '+14155550123' });
    contactId = contact.id;
    conversationId = fake.addConversation({ inboxId: inbox.id, contactId }).id;
    fake.addIncomingMessage(conversationId, { content: 'Hi' });
    const logger = createLogSink().logger;
    client = createChatwootClient({
      baseUrl: fake.url,
      apiAccessToken: fake.user.token,
      accountId: fake.accountId,
      timeoutMs: 2_000,
      budget: createRequestBudget({ requestsPerMinute: 60_000, concurrency: 2, clock: systemClock, logger }),
      clock: systemClock,
      logger,
    });
  });
  afterAll(async () => {
    await fake.close();
  });

  test('every call the client can make is in the spec, or a documented fact of Chatwoot’s code', async () => {
    const call = { lane: 'send' } as const;
    await client.apiInfo(call);
    await client.profile(call);
    await client.listInboxes(call);
    await client.getConversation(conversationId, call);
    await client.listConversations({ inboxId: 1, sourceId: '14155550123', status: 'all', page: 2 }, call);
    await client.searchContacts('+14155550123', 2, call);
    await client.listContactConversations(contactId, call);
    await client.createMessage(conversationId, { content: 'Hello', contentAttributes: markerFor('s1', 0) }, call);
    await client.listMessages(conversationId, {}, call);
    await client.listMessages(conversationId, { after: 1, before: 100 }, call);
    await client.setConversationStatus(conversationId, 'open', call);
    await client.createMessage(
      conversationId,
      {
        content: 'Hi Jane, your order 4411 has shipped.',
        contentAttributes: markerFor('s2', 0),
        templateParams: {
          name: 'order_update',
          language: 'en_US',
          category: 'UTILITY',
          processed_params: { body: { '1': 'Jane', '2': '4411' } },
        },
      },
      call,
    );
    const { contactId: newContact } = await client.createContact(
      { inboxId, name: '+14155550199', phoneNumber: '+14155550199' },
      call,
    );
    await client.createContactInbox(newContact, inboxId, call);
    await client.createConversation(inboxId, newContact, call);
    await client.syncTemplates(inboxId, call);

    const made = fake.requests.map((entry) => `${entry.method} ${entry.path}`);
    expect(made).toHaveLength(16);
    expect(fake.requests.flatMap(check)).toEqual([]);
  });

  test('would notice a request outside the spec', () => {
    const base = fake.requests[0];
    if (base === undefined) throw new Error('no request recorded');
    expect(
      check({ ...base, method: 'GET', path: '/api/v1/accounts/1/conversations', query: { sort_order: 'x' } }),
    ).toEqual(['GET /api/v1/accounts/{account_id}/conversations: query "sort_order" not in the spec']);
    expect(
      check({ ...base, method: 'POST', path: '/api/v1/accounts/1/conversations/1/messages', body: { echo: 1 } }),
    ).toEqual([
      'POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages: body field "echo" not in the spec',
    ]);
    expect(check({ ...base, method: 'DELETE', path: '/api/v1/profile' })).toEqual([
      'DELETE /api/v1/profile: method not in the spec',
    ]);
  });

  test('content_attributes carries the send id through Chatwoot and back, which echo_id cannot (reference §1)', async () => {
    const created = await client.createMessage(
      conversationId,
      { content: 'Marked', contentAttributes: markerFor('s-round-trip', 2) },
      { lane: 'send' },
    );
    expect(markerOf(created)).toEqual({ sendId: 's-round-trip', part: 2 });
    const reread = await client.listMessages(
      conversationId,
      { after: created.id, before: created.id + 1 },
      { lane: 'send' },
    );
    expect(reread.map((message) => message.id)).toEqual([created.id]);
    expect(reread.map(markerOf)).toEqual([{ sendId: 's-round-trip', part: 2 }]);
  });
});
