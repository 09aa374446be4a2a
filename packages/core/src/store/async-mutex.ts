/**
 * A FIFO async mutex: `lock()` resolves when the caller holds it, `unlock()` hands it to
 * the next waiter. Used where one resource must be used by one task at a time (the single
 * SQLite connection, the in-memory store's write path).
 */
export class AsyncMutex {
  #locked = false;
  readonly #waiters: Array<() => void> = [];

  /** Whether some task holds the mutex now. */
  get locked(): boolean {
    return this.#locked;
  }

  lock(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  unlock(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.lock();
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }
}
