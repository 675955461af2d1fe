import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { QueueWorker, STORE_OPTIONS, type StoreRuntimeOptions } from '@hookhub/store';
import { SubscriptionLimiter } from '../delivery/subscription-limiter';
import { type ClaimedDelivery, DeliveryQueue } from './delivery-queue';
import { Deliverer } from './deliverer';
import { SubscriptionsService } from './subscriptions.service';

/**
 * Works the delivery queue: up to HOOKHUB_DELIVERY_CONCURRENCY deliveries at once, woken by every publish.
 * The claim keeps each webhook within its in-flight limit; a webhook's `max_per_second` is kept here, and a
 * delivery over it goes back to the queue for when the next slot frees, without counting as an attempt.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeliveryWorker');
  private readonly limiter = new SubscriptionLimiter();
  private worker?: QueueWorker;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly deliverer: Deliverer,
    private readonly subscriptions: SubscriptionsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORE_OPTIONS) private readonly storeOptions: StoreRuntimeOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.storeOptions.runWorkers) this.start();
  }

  start(): void {
    if (this.worker) return;
    this.worker = new QueueWorker(this.queue, (row, workerId) => this.handle(row as ClaimedDelivery, workerId), {
      concurrency: this.config.outbound.concurrency,
      leaseMs: this.config.outbound.leaseMs,
      pollIntervalMs: Math.min(this.storeOptions.pollIntervalMs, 1000),
      onError: (err) => this.logger.error(`delivery worker: ${(err as Error).message}`),
    });
    this.worker.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.stop();
    this.worker = undefined;
  }

  private async handle(row: ClaimedDelivery, workerId: string): Promise<void> {
    const active = await this.subscriptions.active(row.subscription_id, row.subscription_updated_at);
    const perSecond = active?.subscription.maxPerSecond ?? null;
    if (perSecond !== null) {
      const admitted = this.limiter.tryStart(row.subscription_id, perSecond);
      if (!admitted.ok) {
        await this.queue.release(row.id, workerId, admitted.waitMs);
        return;
      }
    }
    await this.deliverer.deliver(row, workerId, { health: true, retry: true }, active);
  }
}
