import { describe, expect, test } from 'vitest';
import { boltLogger } from '../../src/slack/bolt-logger.ts';
import { checkPermission, ENTRY_POINTS } from '../../src/slack/entry-points.ts';
import { createLogSink } from '../helpers/log-sink.ts';

describe('the logger Bolt uses', () => {
  test('keeps every argument and the error (pino alone would drop them)', () => {
    const sink = createLogSink('trace');
    const logger = boltLogger(sink.logger);
    logger.warn('http request failed', 'chat.postMessage', 42);
    logger.error('An unhandled error occurred', new Error('boom'));
    const [warn, error] = sink.lines();
    expect(warn).toMatchObject({ level: 40, msg: 'http request failed chat.postMessage 42', component: 'slack' });
    expect(error).toMatchObject({ level: 50, msg: 'An unhandled error occurred', err: { message: 'boom' } });
    expect(String((error?.['err'] as Record<string, unknown> | undefined)?.['stack'])).toContain('Error: boom');
  });

  test("writes Bolt's debug (request bodies, so message text) at trace only", () => {
    const sink = createLogSink('debug');
    const logger = boltLogger(sink.logger);
    logger.debug('http request body', { text: 'secret customer message' });
    expect(sink.text()).not.toContain('secret customer message');
    expect(logger.getLevel()).toBe('debug');
  });

  test('Bolt changing its level or name never changes the service logger', () => {
    const sink = createLogSink('info');
    const logger = boltLogger(sink.logger);
    logger.setLevel('error' as never);
    logger.setName('socket-mode');
    logger.warn('quiet');
    logger.error('loud');
    sink.logger.info('service still logs');
    expect(sink.lines().map((line) => [line['msg'], line['component']])).toEqual([
      ['loud', 'socket-mode'],
      ['service still logs', undefined],
    ]);
  });
});

describe('ways in and who may use them', () => {
  test('each way in has its own idempotency key, stable for the same request', () => {
    expect(ENTRY_POINTS.slashCommand.key({ trigger_id: '123.456.abc' })).toBe('slack:command:123.456.abc');
    expect(ENTRY_POINTS.button.key({ messageTs: '1.2', actionId: 'retry_send', value: 's1' })).toBe(
      'slack:action:1.2:retry_send:s1',
    );
    expect(ENTRY_POINTS.modalSubmission.key({ id: 'V1' })).toBe('slack:view:V1');
    expect(ENTRY_POINTS.threadReply.key({ channel: 'C1', ts: '1.2' })).toBe('slack:message:C1:1.2');
  });

  test('empty lists allow everyone everywhere; lists refuse others politely, naming what to do', () => {
    const open = { allowedUsers: [], allowedChannels: [] };
    expect(checkPermission(open, { userId: 'U1', channelId: 'C1' })).toEqual({ ok: true });
    const listed = { allowedUsers: ['U0ALLOWED1'], allowedChannels: ['C0ALLOWED1'] };
    const user = checkPermission(listed, { userId: 'U0OTHER001', channelId: 'C0ALLOWED1' });
    expect(user).toMatchObject({ ok: false, reason: 'user' });
    expect(user.ok ? '' : user.message).toMatch(/nothing was sent.*SLACK_ALLOWED_USERS/);
    const channel = checkPermission(listed, { userId: 'U0ALLOWED1', channelId: 'C0OTHER001' });
    expect(channel.ok ? '' : channel.message).toMatch(/<#C0ALLOWED1>/);
    // A DM with the app is the user's own place.
    expect(checkPermission(listed, { userId: 'U0ALLOWED1', channelId: 'D0DM000001' })).toEqual({ ok: true });
  });
});
