/** Timers that can all be cancelled at once, so `close()` leaves nothing running. */
export class TimerRegistry {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Map<NodeJS.Timeout, (completed: boolean) => void>();
  private idleWaiters: Array<() => void> = [];

  get pending(): number {
    return this.timers.size;
  }

  set(callback: () => void, ms: number): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        try {
          callback();
        } finally {
          this.settle();
        }
      },
      Math.max(0, ms),
    );
    this.timers.add(timer);
  }

  /** Resolves `true` after `ms`, or `false` as soon as the registry is cleared. */
  sleep(ms: number): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepers.delete(timer);
        resolve(true);
      }, ms);
      this.sleepers.set(timer, resolve);
    });
  }

  /** Resolves when no `set` timer is pending (timers scheduled by callbacks count too). */
  whenIdle(): Promise<void> {
    if (this.timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  clearAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const [timer, resolve] of this.sleepers) {
      clearTimeout(timer);
      resolve(false);
    }
    this.sleepers.clear();
    this.settle();
  }

  private settle(): void {
    if (this.timers.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
