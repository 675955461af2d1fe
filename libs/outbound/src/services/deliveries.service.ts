import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock, HookhubError, type Page, isUuid } from '@hookhub/core';
import {
  type AttemptDto,
  type DeliveryDto,
  type ListAttemptsQueryDto,
  type ListDeliveriesQueryDto,
  type RecentAttemptsQueryDto,
  type RecoverDto,
  type RecoveredDto,
  type StatsQueryDto,
  type WebhookStatsDto,
  type WebhookTestResultDto,
  toAttemptDto,
  toDeliveryDto,
} from '../dto/webhooks.dto';
import { DeliveryAttemptStore } from '../stores/delivery-attempts.store';
import { type ClaimedDelivery, DeliveryStore } from '../stores/deliveries.store';
import { Deliverer } from './deliverer';
import { EventsService } from './events.service';
import { WebhooksService } from './webhooks.service';

/** A webhook's deliveries and attempts: the test send, logs, stats, resend and bulk recover. */
@Injectable()
export class DeliveriesService {
  constructor(
    private readonly attempts: DeliveryAttemptStore,
    private readonly deliveries: DeliveryStore,
    private readonly webhooks: WebhooksService,
    private readonly events: EventsService,
    private readonly deliverer: Deliverer,
    private readonly clock: Clock,
  ) {}

  /** Sends a `webhook.test` event to this webhook now (even when disabled), once, and returns the attempt. */
  async test(id: string, by: string): Promise<WebhookTestResultDto> {
    const webhook = await this.webhooks.find(id);
    const workerId = `test:${randomUUID()}`;
    const data = { webhook_id: webhook.id, message: 'This is a test event sent from Hookhub.', requested_by: by };
    const created = await this.events.createClaimed(
      webhook.id,
      { type: 'webhook.test', data, publishedBy: by },
      workerId,
      webhook.timeoutMs + 30_000,
      'test',
    );
    const row: ClaimedDelivery = {
      id: created.deliveryId,
      attempts: 1,
      recovered: false,
      event_id: created.eventId,
      webhook_id: webhook.id,
      event_type: 'webhook.test',
      trigger: 'test',
      retry_base: 0,
      body: created.body,
      webhook_updated_at: webhook.updatedAt,
    };
    const outcome = await this.deliverer.deliver(row, workerId, { health: false, retry: false });
    const attempt = outcome.attemptId ? await this.attempts.findById(outcome.attemptId) : null;
    if (!attempt) throw HookhubError.conflict(`Webhook ${id} was deleted during the test`);
    return { event_id: created.eventId, delivery_id: created.deliveryId, attempt: toAttemptDto(attempt) };
  }

  /** The attempts of one webhook, newest first. */
  async logs(id: string, query: ListAttemptsQueryDto): Promise<Page<AttemptDto>> {
    await this.webhooks.find(id);
    return this.attempts.page(id, query, toAttemptDto);
  }

  /** The attempts of every webhook in the last `hours` (default 24). */
  async recent(query: RecentAttemptsQueryDto): Promise<Page<AttemptDto>> {
    const since = new Date(this.clock.nowMs() - (query.hours ?? 24) * 3600_000).toISOString();
    const from = query.from && query.from > since ? query.from : since;
    return this.attempts.page(null, { ...query, from }, toAttemptDto);
  }

  async listDeliveries(id: string, query: ListDeliveriesQueryDto): Promise<Page<DeliveryDto>> {
    await this.webhooks.find(id);
    return this.deliveries.page(id, query, toDeliveryDto);
  }

  /** Deliveries and attempts of a webhook over a time range (default the last 24 h), from the attempt log. */
  async stats(id: string, query: StatsQueryDto): Promise<WebhookStatsDto> {
    const webhook = await this.webhooks.find(id);
    const to = query.to ? new Date(query.to) : this.clock.now();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - 24 * 3600_000);
    if (from >= to)
      throw HookhubError.badRequest('from must be before to', [{ field: 'from', errors: ['from must be before to'] }]);
    const deliveries = await this.deliveries.countsOf(id, from, to);
    const attempts = await this.attempts.countsOf(id, from, to);
    const unit = to.getTime() - from.getTime() <= 7 * 24 * 3600_000 ? 'hour' : 'day';
    const periods = await this.attempts.outcomesPer(unit, from, to, id);
    const finished = deliveries.succeeded + deliveries.failed;
    return {
      webhook_id: id,
      from: from.toISOString(),
      to: to.toISOString(),
      total: deliveries.total,
      succeeded: deliveries.succeeded,
      failed: deliveries.failed,
      pending: deliveries.pending,
      success_rate: finished ? Math.round((deliveries.succeeded / finished) * 10_000) / 10_000 : null,
      attempts: attempts.total,
      attempts_succeeded: attempts.succeeded,
      p50_ms: attempts.p50 === null ? null : Math.round(Number(attempts.p50)),
      p95_ms: attempts.p95 === null ? null : Math.round(Number(attempts.p95)),
      last_success_at: webhook.lastSuccessAt?.toISOString() ?? null,
      last_error: webhook.lastError,
      last_error_at: webhook.lastErrorAt?.toISOString() ?? null,
      period: unit,
      periods: periods.map((p) => ({
        start: new Date(p.start).toISOString(),
        attempts: p.total,
        attempts_succeeded: p.succeeded,
      })),
    };
  }

  /** Queues a finished delivery again now, with a fresh retry schedule (`trigger: manual`). */
  async resend(id: string, deliveryId: string): Promise<DeliveryDto> {
    await this.webhooks.find(id);
    const delivery = isUuid(deliveryId) ? await this.deliveries.findOfWebhook(deliveryId, id) : null;
    if (!delivery) throw HookhubError.notFound('Delivery', deliveryId);
    if (!(await this.deliveries.requeueFinished(deliveryId)))
      throw HookhubError.conflict(
        `Delivery ${deliveryId} is ${delivery.status}; only finished deliveries can be sent again`,
      );
    await this.events.wake();
    const requeued = await this.deliveries.findById(deliveryId);
    if (!requeued) throw HookhubError.notFound('Delivery', deliveryId);
    return toDeliveryDto(requeued);
  }

  /** Queues again every failed delivery of a webhook created in [from, to) (`trigger: recover`). */
  async recover(id: string, dto: RecoverDto): Promise<RecoveredDto> {
    const webhook = await this.webhooks.find(id);
    if (!webhook.enabled)
      throw HookhubError.conflict(`Webhook ${id} is disabled; enable it before recovering its deliveries`);
    const to = dto.to ?? this.clock.now().toISOString();
    const requeued = await this.deliveries.requeueFailed(id, dto.from, to);
    if (requeued) await this.events.wake();
    return { requeued };
  }
}
