import { Injectable, Logger } from '@nestjs/common';
import { Db } from '@hookhub/store';
import { DeliveryStore } from '../stores/deliveries.store';
import { WebhookStore } from '../stores/webhooks.store';
import { EventsService, HUB_PUBLISHER } from './events.service';

/** Disables the webhooks Hookhub gave up on (410 Gone, failing for too long). */
@Injectable()
export class WebhookDisabler {
  private readonly logger = new Logger('Deliverer');

  constructor(
    private readonly db: Db,
    private readonly webhooks: WebhookStore,
    private readonly deliveries: DeliveryStore,
    private readonly events: EventsService,
  ) {}

  /**
   * Disables a webhook Hookhub gave up on, fails its queued deliveries (bulk recover queues them again), and
   * publishes `webhook.disabled`, all in one transaction; once, however many workers see the failure.
   */
  async disable(id: string, reason: string): Promise<boolean> {
    let published = 0;
    let disabled = false;
    await this.db.transaction(async (m) => {
      const webhook = await this.webhooks.disable(id, reason, m);
      if (!webhook) return;
      disabled = true;
      await this.deliveries.failQueuedOf(id, `the webhook was disabled: ${reason}`, m);
      const event = await this.events.publishWithin(m, {
        type: 'webhook.disabled',
        data: {
          webhook_id: id,
          name: webhook.name,
          url: webhook.url,
          reason,
          disabled_at: new Date(webhook.disabled_at).toISOString(),
        },
        publishedBy: HUB_PUBLISHER,
      });
      published = event.deliveries;
    });
    if (published) await this.events.wake();
    if (disabled) this.logger.warn({ msg: 'webhook disabled', webhookId: id, reason });
    return disabled;
  }
}
