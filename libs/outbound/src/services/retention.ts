import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { Periodic, STORE_OPTIONS, type StoreRuntimeOptions, affectedRows } from '@hookhub/store';

const BATCH = 5000;
const EVERY_MS = 10 * 60_000;

export interface RetentionResult {
  attempts: number;
  events: number;
  idempotencyKeys: number;
}

/**
 * Deletes delivery attempts and events older than HOOKHUB_RETENTION_DAYS, and expired idempotency keys, in
 * batches of 5,000 rows, every 10 minutes, in the process that runs the workers. An event with a delivery
 * still queued or in flight is kept whatever its age; deleting an event deletes its deliveries.
 */
@Injectable()
export class OutboundRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Retention');
  private readonly periodic = new Periodic(EVERY_MS, () => this.purge(), (err) => this.logger.error(`retention failed: ${(err as Error).message}`));

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORE_OPTIONS) private readonly options: StoreRuntimeOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.runWorkers) this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }

  /** One full pass; returns how many rows of each kind were deleted. */
  async purge(retentionDays = this.config.outbound.retentionDays): Promise<RetentionResult> {
    const cutoff = new Date(Date.now() - retentionDays * 86_400_000);
    const attempts = await this.inBatches(
      `DELETE FROM delivery_attempts WHERE id IN (SELECT id FROM delivery_attempts WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
      cutoff,
    );
    const events = await this.inBatches(
      `DELETE FROM events WHERE id IN (
         SELECT e.id FROM events e WHERE e.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('queued', 'running'))
         ORDER BY e.created_at LIMIT $2)`,
      cutoff,
    );
    const idempotencyKeys = await this.inBatches(
      `DELETE FROM event_idempotency WHERE key IN (SELECT key FROM event_idempotency WHERE expires_at < $1 LIMIT $2)`,
      new Date(),
    );
    if (attempts || events || idempotencyKeys) {
      this.logger.log(`retention: deleted ${attempts} attempts, ${events} events and ${idempotencyKeys} expired idempotency keys`);
    }
    return { attempts, events, idempotencyKeys };
  }

  private async inBatches(sql: string, cutoff: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = affectedRows(await this.dataSource.query(sql, [cutoff, BATCH]));
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }
}
