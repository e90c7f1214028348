import { startFakeChatwoot } from '../test/fakes/fake-chatwoot.ts';

/**
 * The fake Chatwoot in its own process, so the benchmark's CPU figures measure the bridge alone.
 * Driven over IPC: `setup` seeds conversations, `stats` reports what it received, `down`/`up` toggle it.
 */
type Command =
  | { cmd: 'setup'; conversations: number }
  | { cmd: 'stats' }
  | { cmd: 'down' }
  | { cmd: 'up' }
  | { cmd: 'clear' }
  | { cmd: 'close' };

const options = JSON.parse(process.argv[2] ?? '{}') as { latencyMs?: number; rateLimitPerMinute?: number };
const fake = await startFakeChatwoot({
  latencyMs: options.latencyMs ?? 0,
  rateLimitPerMinute: options.rateLimitPerMinute ?? false,
  contactSearchPerMinute: false,
  requestLogLimit: 1_000_000,
  delivery: { sentAfterMs: 20, deliveredAfterMs: 200, readAfterMs: null, attachmentDelayMs: 0 },
});
const inbox = fake.addInbox({ name: 'WhatsApp', channelType: 'Channel::Whatsapp', provider: 'whatsapp_cloud' });
const reply = (message: unknown) => process.send?.(message);

process.on('message', async (message: Command) => {
  switch (message.cmd) {
    case 'setup': {
      const conversations = [];
      for (let index = 0; index < message.conversations; index += 1) {
        const phone = `+1415${String(2_000_000 + index).padStart(7, '0')}`;
        const contact = fake.addContact({ name: `Customer ${index}`, phoneNumber: phone });
        const conversation = fake.addConversation({ inboxId: inbox.id, contactId: contact.id });
        fake.addIncomingMessage(conversation.id, { content: 'hi', at: Date.now() - 60_000 });
        conversations.push({ id: conversation.id, phone });
      }
      reply({ url: fake.url, token: fake.user.token, conversations });
      return;
    }
    case 'stats': {
      const posts = fake.requests.filter((entry) => entry.method === 'POST' && entry.path.endsWith('/messages'));
      reply({
        requests: fake.requests.length,
        throttled: fake.requests.filter((entry) => entry.status === 429).length,
        stored: posts.filter((entry) => entry.status === 200).map((entry) => entry.receivedAt),
        all: fake.requests.map((entry) => entry.receivedAt),
        kinds: fake.requests.map((entry) => `${entry.method} ${entry.path.replace(/\d+/g, 'N')}`),
      });
      return;
    }
    case 'clear':
      fake.clearRequests();
      reply({ ok: true });
      return;
    case 'down':
      await fake.down();
      reply({ ok: true });
      return;
    case 'up':
      await fake.up();
      reply({ ok: true });
      return;
    case 'close':
      await fake.close();
      reply({ ok: true });
      process.exit(0);
  }
});
reply({ ready: true });
