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
  /**
   * After a claim that found less than it had room for, the least time before the next one (default 20 ms):
   * the wake-ups in between are one claim. Without it, a worker whose rows are all held back by a limit (one
   * webhook at its in-flight limit, one program at its own) would claim in vain on every publish.
   */
  minClaimGapMs?: number;
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
  /** When the last claim that found less than it had room for ended (0: the last one was full). */
  private shortClaimAt = 0;
  /** Claims made, and those that found nothing (for tests and the idle-CPU measurement). */
  readonly stats = { claims: 0, empty: 0 };

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
      let free = this.options.concurrency - this.inFlight.size;
      let claimed: ClaimedRow[] = [];
      this.woken = false;
      if (free > 0) {
        // Wake-ups that follow a short claim closely are gathered into one claim.
        const gap = this.shortClaimAt + (this.options.minClaimGapMs ?? 20) - Date.now();
        if (this.shortClaimAt && gap > 0) {
          await this.sleep(gap, false);
          if (!this.running) break;
          free = this.options.concurrency - this.inFlight.size;
          this.woken = false;
        }
        try {
          claimed = await this.queue.claim(this.workerId, free, this.options.leaseMs);
        } catch (err) {
          this.options.onError?.(err);
        }
        this.stats.claims++;
        if (!claimed.length) this.stats.empty++;
        this.shortClaimAt = claimed.length < free ? Date.now() : 0;
        for (const row of claimed) this.track(row);
      }
      if (!this.running) break;
      // A full batch means more may be waiting: claim again at once if there is room.
      if (claimed.length > 0 && claimed.length === free && this.inFlight.size < this.options.concurrency) continue;
      if (this.woken) continue;
      await this.sleep(this.options.pollIntervalMs, true);
    }
  }

  /** Sleeps `ms`; a wake-up (a publish, a freed slot, stop) ends it early when `wakeable`, else is kept for after. */
  private async sleep(ms: number, wakeable: boolean): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = wakeable ? done : () => (this.running ? undefined : done());
    });
    this.wakeUp = undefined;
  }

  private track(row: ClaimedRow): void {
    const heartbeat = setInterval(
      () => {
        this.queue
          .extendLease(row.id, this.workerId, this.options.leaseMs)
          .catch((err: unknown) => this.options.onError?.(err, row));
      },
      Math.max(Math.floor(this.options.leaseMs / 3), 10),
    );
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
