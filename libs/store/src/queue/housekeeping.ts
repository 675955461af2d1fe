import { Injectable, Logger, OnApplicationBootstrap, BeforeApplicationShutdown, Inject } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { STORE_OPTIONS, type StoreRuntimeOptions } from '../store.tokens';
import { Periodic } from './periodic';

/** Finished generic jobs are kept this long for inspection, then deleted in batches. */
export const FINISHED_JOB_RETENTION_DAYS = 7;
const BATCH = 1000;

/**
 * Deletes finished `queue_jobs` rows past their retention, in bounded batches, every few minutes. Runs in
 * whichever process hosts the workers (the API by default, `apps/worker` when scaled out).
 */
@Injectable()
export class QueueHousekeeping implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Housekeeping');
  private readonly periodic = new Periodic(5 * 60_000, () => this.purge(), (err) => this.logger.error(`housekeeping failed: ${(err as Error).message}`));

  constructor(
    private readonly dataSource: DataSource,
    @Inject(STORE_OPTIONS) private readonly options: StoreRuntimeOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.runWorkers) this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }

  /** Deletes finished jobs older than the retention; returns how many. */
  async purge(retentionDays = FINISHED_JOB_RETENTION_DAYS): Promise<number> {
    let total = 0;
    for (;;) {
      const result = (await this.dataSource.query(
        `DELETE FROM queue_jobs WHERE id IN (
           SELECT id FROM queue_jobs WHERE finished_at < now() - ($1::int * interval '1 day') LIMIT $2)`,
        [retentionDays, BATCH],
      )) as [unknown[], number];
      const deleted = Array.isArray(result) ? Number(result[1]) || 0 : 0;
      total += deleted;
      if (deleted < BATCH) break;
    }
    if (total) this.logger.log(`deleted ${total} finished jobs older than ${retentionDays} days`);
    return total;
  }
}
