import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '@hookhub/core';
import { DeliveryStore } from '../stores/deliveries.store';
import { WebhookStore } from '../stores/webhooks.store';

/** Registers the outbound gauges read on scrape: the delivery queue's depth and the failing webhooks. */
@Injectable()
export class OutboundMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly deliveries: DeliveryStore,
    private readonly webhooks: WebhookStore,
  ) {}

  onModuleInit(): void {
    this.metrics.registerQueue('deliveries', () => this.deliveries.depth());
    this.metrics.registerWebhooksFailing(() => this.webhooks.countFailing());
  }
}
