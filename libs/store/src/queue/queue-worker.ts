import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ClaimedRow, WorkQueue } from './work-queue';

export interface QueueWorkerOptions {
  /** Rows worked on at once by this worker. */
  concurrency: number;
  /** How long a claim is valid; extended every `leaseMs / 3` while the handler runs. */
  leaseMs: number;
  /** Poll interval: the fallback when a wake-up is missed, and how due retries are found. */
  pollIntervalMs: number;
  workerId?: string;
  onError?: (err: unknown, row?: ClaimedRow) => void;
}

/**
 * Runs a handler over a {@link WorkQueue}: claims as many rows as it has free slots, keeps their leases
 * alive while the handler runs, and sleeps until a wake-up, a freed slot or the poll interval. The handler
 * owns the row's outcome (complete / reschedule / fail through the queue); if it throws, the row is left to
 * its lease and comes back later.
 */
export class QueueWorker {
  readonly workerId: string;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private wakeUp?: () => void;
  private woken = false;
  private unsubscribe?: () => void;
  private loop?: Promise<void>;

  constructor(
    private readonly queue: WorkQueue,
    private readonly handler: (row: ClaimedRow, workerId: string) => Promise<void>,
    private readonly options: QueueWorkerOptions,
  ) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.queue.subscribe(() => this.poke());
    this.loop = this.run();
  }

  /** Stops claiming, then waits for the handlers in flight. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.poke();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  get busy(): number {
    return this.inFlight.size;
  }

  private poke(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const free = this.options.concurrency - this.inFlight.size;
      let claimed: ClaimedRow[] = [];
      this.woken = false;
      if (free > 0) {
        try {
          claimed = await this.queue.claim(this.workerId, free, this.options.leaseMs);
        } catch (err) {
          this.options.onError?.(err);
        }
        for (const row of claimed) this.track(row);
      }
      if (!this.running) break;
      // A full batch means more may be waiting: claim again at once if there is room.
      if (claimed.length > 0 && claimed.length === free && this.inFlight.size < this.options.concurrency) continue;
      if (this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.options.pollIntervalMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wakeUp = done;
      });
      this.wakeUp = undefined;
    }
  }

  private track(row: ClaimedRow): void {
    const heartbeat = setInterval(() => {
      this.queue.extendLease(row.id, this.workerId, this.options.leaseMs).catch((err: unknown) => this.options.onError?.(err, row));
    }, Math.max(Math.floor(this.options.leaseMs / 3), 10));
    const task = (async () => {
      try {
        await this.handler(row, this.workerId);
      } catch (err) {
        this.options.onError?.(err, row);
      } finally {
        clearInterval(heartbeat);
      }
    })();
    this.inFlight.add(task);
    void task.finally(() => {
      this.inFlight.delete(task);
      // A freed slot may take the next row.
      this.poke();
    });
  }
}
