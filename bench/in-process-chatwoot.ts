/**
 * A `fetch` that answers the few Chatwoot calls a send makes, in Chatwoot's shapes, without a network. Used by the
 * benchmark to measure the bridge's own CPU per message, with the HTTP stack and the disk taken out of the figure.
 * Messages are delivered at once: the first re-read sees them delivered.
 */
export function inProcessChatwoot(conversationCount: number) {
  const now = () => Math.floor(Date.now() / 1000);
  let nextMessageId = 1;
  const messages = new Map<number, Array<Record<string, unknown>>>();
  const phone = (id: number) => `+1415${String(3_000_000 + id).padStart(7, '0')}`;
  const conversation = (id: number) => ({
    id,
    inbox_id: 1,
    status: 'open',
    can_reply: true,
    meta: { sender: { id, name: `Customer ${id}`, phone_number: phone(id) }, channel: 'Channel::Whatsapp' },
    messages: [{ id: 0, message_type: 0, created_at: now() - 60, content: 'hi', content_attributes: {} }],
  });
  const json = (body: unknown) =>
    new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } });

  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const path = url.pathname;
    if (path.endsWith('/inboxes')) {
      return json({
        payload: [{ id: 1, name: 'WhatsApp', channel_type: 'Channel::Whatsapp', provider: 'whatsapp_cloud' }],
      });
    }
    const messagesMatch = /\/conversations\/(\d+)\/messages$/.exec(path);
    if (messagesMatch?.[1] !== undefined) {
      const id = Number(messagesMatch[1]);
      const list = messages.get(id) ?? [];
      messages.set(id, list);
      if (request.method === 'POST') {
        const body = (await request.json()) as { content: string; content_attributes?: Record<string, unknown> };
        const message = {
          id: nextMessageId++,
          conversation_id: id,
          content: body.content,
          message_type: 1,
          status: 'sent',
          source_id: null,
          private: false,
          created_at: now(),
          content_attributes: body.content_attributes ?? {},
        };
        list.push({ ...message, status: 'delivered', source_id: `wamid.${message.id}` });
        return json(message);
      }
      const after = Number(url.searchParams.get('after') ?? 0);
      const before = Number(url.searchParams.get('before') ?? Number.MAX_SAFE_INTEGER);
      return json({
        meta: {},
        payload: list.filter((message) => Number(message['id']) >= after && Number(message['id']) < before),
      });
    }
    const conversationMatch = /\/conversations\/(\d+)$/.exec(path);
    if (conversationMatch?.[1] !== undefined) return json(conversation(Number(conversationMatch[1])));
    if (path.endsWith('/conversations')) {
      const sourceId = url.searchParams.get('source_id') ?? '';
      const id = Number(sourceId.slice(4)) - 3_000_000;
      return json({ data: { meta: {}, payload: id > 0 && id <= conversationCount ? [conversation(id)] : [] } });
    }
    return new Response('{"error":"Resource could not be found"}', {
      status: 404,
      headers: { 'content-type': 'application/json' },
    });
  };
  return { fetch, phone };
}
