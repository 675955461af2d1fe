import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, Clock } from '@hookhub/core';
import { Periodic, STORE_OPTIONS, type StoreRuntimeOptions } from '@hookhub/store';
import { DeliveryAttemptStore } from '../stores/delivery-attempts.store';
import { EventIdempotencyStore } from '../stores/event-idempotency.store';
import { EventStore } from '../stores/events.store';

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
  private readonly periodic = new Periodic(
    EVERY_MS,
    () => this.purge(),
    (err) => this.logger.error(`retention failed: ${(err as Error).message}`),
  );

  constructor(
    private readonly attemptStore: DeliveryAttemptStore,
    private readonly eventStore: EventStore,
    private readonly idempotency: EventIdempotencyStore,
    private readonly clock: Clock,
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
    const cutoff = new Date(this.clock.nowMs() - retentionDays * 86_400_000);
    const attempts = await this.inBatches((limit) => this.attemptStore.deleteOlderThan(cutoff, limit));
    const events = await this.inBatches((limit) => this.eventStore.deleteSettledOlderThan(cutoff, limit));
    const now = this.clock.now();
    const idempotencyKeys = await this.inBatches((limit) => this.idempotency.deleteExpired(now, limit));
    if (attempts || events || idempotencyKeys) {
      this.logger.log(
        `retention: deleted ${attempts} attempts, ${events} events and ${idempotencyKeys} expired idempotency keys`,
      );
    }
    return { attempts, events, idempotencyKeys };
  }

  /** Runs `deleteBatch` until it deletes fewer than a full batch; how many rows in all. */
  private async inBatches(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await deleteBatch(BATCH);
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }
}
