/**
 * A per-subscriber mailbox that holds only the newest value. A consumer that
 * reads slower than values arrive skips the intermediate ones instead of
 * making the server queue them: memory per subscriber stays one value.
 */
export class LatestValueChannel<T> implements AsyncIterableIterator<T> {
  private pending: { value: T } | null = null;
  private waiter: ((result: IteratorResult<T>) => void) | null = null;
  private closed = false;
  private lastDeliveredAt = 0;
  private delay: ReturnType<typeof setTimeout> | null = null;

  /**
   * @param minIntervalMs deliver at most one value per interval; the value
   *   delivered at the end of an interval is the newest one.
   * @param onClose called once when the consumer stops or `close()` is called.
   */
  constructor(
    private readonly minIntervalMs = 0,
    private readonly onClose?: () => void,
  ) {}

  push(value: T): void {
    if (this.closed) return;
    this.pending = { value };
    this.deliver();
  }

  private deliver(): void {
    if (!this.waiter || !this.pending || this.delay) return;
    const wait = this.lastDeliveredAt + this.minIntervalMs - Date.now();
    if (this.minIntervalMs > 0 && this.lastDeliveredAt > 0 && wait > 0) {
      this.delay = setTimeout(() => {
        this.delay = null;
        this.deliver();
      }, wait);
      return;
    }
    const { value } = this.pending;
    const resolve = this.waiter;
    this.pending = null;
    this.waiter = null;
    this.lastDeliveredAt = Date.now();
    resolve({ value, done: false });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.deliver();
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.delay) clearTimeout(this.delay);
    this.delay = null;
    this.pending = null;
    this.waiter?.({ value: undefined, done: true });
    this.waiter = null;
    this.onClose?.();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
