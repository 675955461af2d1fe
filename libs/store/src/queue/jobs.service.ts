import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { backoffDelay } from './backoff';
import { QueueNotifier } from './notifier';
import { QueueWorker } from './queue-worker';
import { type ClaimedRow, WorkQueue } from './work-queue';
import { STORE_OPTIONS, type StoreRuntimeOptions } from '../store.tokens';

export interface EnqueueOptions {
  runAt?: Date;
  maxAttempts?: number;
  /** Enqueue inside this transaction; call {@link JobsService.wake} after it commits. */
  manager?: EntityManager;
}

export interface Job<P> {
  id: string;
  queue: string;
  payload: P;
  attempts: number;
  maxAttempts: number;
  recovered: boolean;
}

export interface WorkOptions {
  concurrency?: number;
  leaseMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/**
 * Named background jobs on the generic `queue_jobs` table: enqueue (transactionally), and work a queue with
 * retries and a dead state after `max_attempts`. Domain tables with their own lifecycle (task runs,
 * deliveries) use {@link WorkQueue} directly.
 */
@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);
  private readonly queues = new Map<string, WorkQueue>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly notifier: QueueNotifier,
    @Inject(STORE_OPTIONS) private readonly options: StoreRuntimeOptions,
  ) {}

  queue(name: string): WorkQueue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new WorkQueue(this.dataSource, this.notifier, { name: `job:${name}`, table: 'queue_jobs', where: { column: 'queue', value: name } });
      this.queues.set(name, queue);
    }
    return queue;
  }

  async enqueue(queue: string, payload: unknown, options: EnqueueOptions = {}): Promise<string> {
    const rows = (await (options.manager ?? this.dataSource).query(
      `INSERT INTO queue_jobs (queue, payload, run_at, max_attempts) VALUES ($1, $2, coalesce($3, now()), $4) RETURNING id`,
      [queue, JSON.stringify(payload ?? {}), options.runAt ?? null, options.maxAttempts ?? 10],
    )) as Array<{ id: string }>;
    if (!options.manager) await this.wake(queue);
    return rows[0].id;
  }

  async wake(queue: string): Promise<void> {
    await this.queue(queue).wake();
  }

  /** Creates (not starts) a worker for `queue`; a throwing handler is retried with backoff, then dead. */
  worker<P>(queue: string, handler: (job: Job<P>) => Promise<void>, options: WorkOptions = {}): QueueWorker {
    const workQueue = this.queue(queue);
    const baseMs = options.retryBaseMs ?? 1000;
    const maxMs = options.retryMaxMs ?? 3_600_000;
    return new QueueWorker(
      workQueue,
      async (row: ClaimedRow, workerId: string) => {
        const job: Job<P> = {
          id: row.id,
          queue,
          payload: row.payload as P,
          attempts: row.attempts,
          maxAttempts: Number(row.max_attempts),
          recovered: row.recovered,
        };
        try {
          await handler(job);
          await workQueue.complete(row.id, workerId);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          if (job.attempts >= job.maxAttempts) {
            this.logger.warn(`job ${job.id} on ${queue} failed for good after ${job.attempts} attempts: ${message}`);
            await workQueue.fail(row.id, workerId, message);
          } else {
            await workQueue.reschedule(row.id, workerId, new Date(Date.now() + backoffDelay(job.attempts, baseMs, maxMs)), message);
          }
        }
      },
      {
        concurrency: options.concurrency ?? 4,
        leaseMs: options.leaseMs ?? 60_000,
        pollIntervalMs: this.options.pollIntervalMs,
        onError: (err) => this.logger.error(err instanceof Error ? err.message : String(err)),
      },
    );
  }
}
