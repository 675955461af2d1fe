import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  APP_CONFIG,
  type AppConfig,
  PROCESS_IDENTITY,
  type ProcessIdentity,
  SHARED_COUNTER,
  type SharedCounter,
} from '@hookhub/core';
import { QueueWorker, STORE_OPTIONS, type StoreRuntimeOptions } from '@hookhub/store';
import { WebhookLimiter } from '../policy/webhook-limiter';
import { type ClaimedDelivery, DeliveryStore } from '../stores/deliveries.store';
import { Deliverer } from './deliverer';
import { WebhooksService } from './webhooks.service';

/**
 * Works the delivery queue: up to HOOKHUB_DELIVERY_CONCURRENCY deliveries at once, woken by every publish.
 * The claim keeps each webhook within its in-flight limit; a webhook's `max_per_second` is kept here, over
 * every worker process (see {@link WebhookLimiter}), and a delivery over it goes back to the queue for when the
 * next slot frees, without counting as an attempt.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeliveryWorker');
  private readonly limiter: WebhookLimiter;
  private worker?: QueueWorker;

  constructor(
    private readonly deliveries: DeliveryStore,
    private readonly deliverer: Deliverer,
    private readonly webhooks: WebhooksService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORE_OPTIONS) private readonly storeOptions: StoreRuntimeOptions,
    /** The counters every process shares: `max_per_second` holds over all the workers. */
    @Inject(SHARED_COUNTER) counter: SharedCounter,
    /** The process's identity: deliveries are claimed under its id. */
    @Inject(PROCESS_IDENTITY) private readonly identity?: ProcessIdentity,
  ) {
    this.limiter = new WebhookLimiter(counter);
  }

  onApplicationBootstrap(): void {
    if (this.storeOptions.runWorkers) this.start();
  }

  start(): void {
    if (this.worker) return;
    this.worker = new QueueWorker(
      this.deliveries.queue,
      (row, workerId) => this.handle(row as ClaimedDelivery, workerId),
      {
        workerId: this.identity?.id,
        concurrency: this.config.outbound.concurrency,
        leaseMs: this.config.outbound.leaseMs,
        pollIntervalMs: Math.min(this.storeOptions.pollIntervalMs, 1000),
        onError: (err) => this.logger.error(`delivery worker: ${(err as Error).message}`),
      },
    );
    this.worker.start();
  }

  /** Deliveries in flight in this process (the worker heartbeat reports it). */
  get busy(): number {
    return this.worker?.busy ?? 0;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.stop();
    this.worker = undefined;
  }

  private async handle(row: ClaimedDelivery, workerId: string): Promise<void> {
    const active = await this.webhooks.active(row.webhook_id, row.webhook_updated_at);
    const perSecond = active?.webhook.maxPerSecond ?? null;
    if (perSecond !== null) {
      const admitted = await this.limiter.tryStart(row.webhook_id, perSecond);
      if (!admitted.ok) {
        await this.deliveries.release(row.id, workerId, admitted.waitMs);
        return;
      }
    }
    await this.deliverer.deliver(row, workerId, { health: true, retry: true }, active);
  }
}
