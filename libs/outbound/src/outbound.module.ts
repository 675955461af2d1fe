import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { DeliveryAttempt } from './entities/delivery-attempt.entity';
import { Delivery } from './entities/delivery.entity';
import { EventType } from './entities/event-type.entity';
import { OutboundEvent } from './entities/event.entity';
import { Subscription } from './entities/subscription.entity';
import { AddressGuard } from './net/address-guard';
import { HttpSender } from './net/http-sender';
import { DeliveriesService } from './services/deliveries.service';
import { AttemptRecorder } from './services/attempt-recorder';
import { Deliverer } from './services/deliverer';
import { DeliveryQueue } from './services/delivery-queue';
import { DeliveryWorker } from './services/delivery-worker';
import { EventTypesService } from './services/event-types.service';
import { EventsService } from './services/events.service';
import { OutboundRetention } from './services/retention';
import { SubscriptionsService } from './services/subscriptions.service';

/** Closes the sender's connections after the delivery worker drained (shutdown hooks run after beforeApplicationShutdown). */
@Injectable()
class OutboundLifecycle implements OnApplicationShutdown {
  constructor(private readonly sender: HttpSender) {}

  async onApplicationShutdown(): Promise<void> {
    await this.sender.close();
  }
}

export const OUTBOUND_ENTITIES = [EventType, OutboundEvent, Subscription, Delivery, DeliveryAttempt];

/** Event types, publishing, webhooks (subscriptions), the signed sender, the delivery worker, logs and stats. */
@Module({
  providers: [
    { provide: AddressGuard, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new AddressGuard(config.outbound.allow) },
    {
      provide: HttpSender,
      inject: [AddressGuard, APP_CONFIG],
      useFactory: (guard: AddressGuard, config: AppConfig) => new HttpSender(guard, { connections: config.outbound.concurrency }),
    },
    DeliveryQueue,
    EventTypesService,
    EventsService,
    SubscriptionsService,
    AttemptRecorder,
    Deliverer,
    DeliveryWorker,
    DeliveriesService,
    OutboundRetention,
    OutboundLifecycle,
  ],
  exports: [AddressGuard, HttpSender, DeliveryQueue, EventTypesService, EventsService, SubscriptionsService, Deliverer, DeliveryWorker, DeliveriesService, OutboundRetention],
})
export class OutboundModule {}
