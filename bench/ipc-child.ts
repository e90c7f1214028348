import { type ChildProcess, fork } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A helper process driven over IPC, one command at a time: the module gets its options as JSON in argv[2], answers
 * `{ ready: true }` once started, then one reply per command, and exits on `{ cmd: 'close' }`.
 */
export class IpcChild {
  private pending: ((message: unknown) => void) | undefined;
  private readonly child: ChildProcess;
  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (message) => {
      const resolveReply = this.pending;
      this.pending = undefined;
      resolveReply?.(message);
    });
  }
  static async start(module: URL, options: Record<string, unknown>): Promise<IpcChild> {
    const child = fork(module.pathname, [JSON.stringify(options)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const driver = new IpcChild(child);
    await driver.next();
    return driver;
  }
  private next(): Promise<unknown> {
    return new Promise((resolveReply) => {
      this.pending = resolveReply;
    });
  }
  async call<T>(command: Record<string, unknown>): Promise<T> {
    const reply = this.next();
    this.child.send(command);
    return (await reply) as T;
  }
  async close(): Promise<void> {
    await Promise.race([this.call({ cmd: 'close' }), delay(2_000)]);
    this.child.kill('SIGKILL');
  }
}
