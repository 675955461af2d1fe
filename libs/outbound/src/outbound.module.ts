import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig, Clock } from '@hookhub/core';
import { DeliveryAttempt } from './entities/delivery-attempt.entity';
import { Delivery } from './entities/delivery.entity';
import { EventType } from './entities/event-type.entity';
import { OutboundEvent } from './entities/event.entity';
import { Webhook } from './entities/webhook.entity';
import { AddressGuard } from './net/address-guard';
import { HttpSender } from './net/http-sender';
import { DeliveriesService } from './services/deliveries.service';
import { AttemptRecorder } from './services/attempt-recorder';
import { Deliverer } from './services/deliverer';
import { DeliveryWorker } from './services/delivery-worker';
import { EventTypesService } from './services/event-types.service';
import { EventsService } from './services/events.service';
import { OutboundMetrics } from './services/outbound-metrics';
import { OutboundRetention } from './services/retention';
import { WebhooksService } from './services/webhooks.service';
import { WebhookDisabler } from './services/webhook-disabler';
import { DeliveryStore } from './stores/deliveries.store';
import { DeliveryAttemptStore } from './stores/delivery-attempts.store';
import { EventIdempotencyStore } from './stores/event-idempotency.store';
import { EventTypeStore } from './stores/event-types.store';
import { EventStore } from './stores/events.store';
import { WebhookStore } from './stores/webhooks.store';

const STORES = [EventTypeStore, EventStore, EventIdempotencyStore, WebhookStore, DeliveryStore, DeliveryAttemptStore];

/** Closes the sender's connections after the delivery worker drained (shutdown hooks run after beforeApplicationShutdown). */
@Injectable()
class OutboundLifecycle implements OnApplicationShutdown {
  constructor(private readonly sender: HttpSender) {}

  async onApplicationShutdown(): Promise<void> {
    await this.sender.close();
  }
}

/** Event types, publishing, webhooks, the signed sender, the delivery worker, logs and stats. */
@Module({
  imports: [TypeOrmModule.forFeature([EventType, OutboundEvent, Webhook, Delivery, DeliveryAttempt])],
  providers: [
    {
      provide: AddressGuard,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new AddressGuard(config.outbound.allow),
    },
    {
      provide: HttpSender,
      inject: [AddressGuard, APP_CONFIG, Clock],
      useFactory: (guard: AddressGuard, config: AppConfig, clock: Clock) =>
        new HttpSender(guard, { connections: config.outbound.concurrency, clock }),
    },
    ...STORES,
    EventTypesService,
    EventsService,
    WebhooksService,
    AttemptRecorder,
    WebhookDisabler,
    Deliverer,
    DeliveryWorker,
    DeliveriesService,
    OutboundRetention,
    OutboundLifecycle,
    OutboundMetrics,
  ],
  exports: [
    ...STORES,
    AddressGuard,
    HttpSender,
    EventTypesService,
    EventsService,
    WebhooksService,
    Deliverer,
    DeliveryWorker,
    DeliveriesService,
    OutboundRetention,
  ],
})
export class OutboundModule {}
