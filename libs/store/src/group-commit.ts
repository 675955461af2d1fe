export interface GroupCommitOptions {
  /** Most items written by one statement. */
  maxBatch: number;
  /** Batches written at once (each takes a pooled connection). */
  maxFlushes: number;
  /** Told when a batch failed and its items are written one by one. */
  onSplit?: (size: number, err: unknown) => void;
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: callers hand in one item each and wait for its result; the items are written together by
 * `writeBatch` (one statement, so one round trip and one commit). While `maxFlushes` batches are being
 * written the next one fills up, so under load the cost per item falls and an idle system writes each item
 * at once, without a timer. A failed batch is retried item by item, so one bad item fails only its caller.
 * `writeBatch` answers one result per item, in order.
 */
export class GroupCommit<T, R> {
  private queue: Pending<T, R>[] = [];
  private flushing = 0;

  constructor(
    private readonly writeBatch: (items: T[]) => Promise<R[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  write(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** Items waiting for a batch (not counting those being written). */
  get pending(): number {
    return this.queue.length;
  }

  private kick(): void {
    while (this.flushing < this.options.maxFlushes && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.flushing++;
      void this.flush(batch).finally(() => {
        this.flushing--;
        this.kick();
      });
    }
  }

  private async flush(batch: Pending<T, R>[]): Promise<void> {
    let results: R[];
    try {
      results = await this.writeBatch(batch.map((p) => p.item));
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err);
        return;
      }
      this.options.onSplit?.(batch.length, err);
      for (const p of batch) await this.flush([p]);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}
