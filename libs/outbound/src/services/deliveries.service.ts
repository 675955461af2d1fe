import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type Repository, type SelectQueryBuilder } from 'typeorm';
import { HookhubError, type Page, createdBetween, isUuid, paginate } from '@hookhub/core';
import { rowsOf } from '@hookhub/store';
import type {
  AttemptDto, DeliveryDto, ListAttemptsQueryDto, ListDeliveriesQueryDto, RecentAttemptsQueryDto, RecoverDto, RecoveredDto, StatsQueryDto, WebhookStatsDto,
  WebhookTestResultDto,
} from '../dto/webhooks.dto';
import { DeliveryAttempt } from '../entities/delivery-attempt.entity';
import { Delivery } from '../entities/delivery.entity';
import type { ClaimedDelivery } from './delivery-queue';
import { Deliverer } from './deliverer';
import { EventsService, toDeliveryDto } from './events.service';
import { SubscriptionsService } from './subscriptions.service';

export function toAttemptDto(a: DeliveryAttempt): AttemptDto {
  return {
    id: a.id,
    delivery_id: a.deliveryId,
    event_id: a.eventId,
    webhook_id: a.subscriptionId,
    event_type: a.eventType,
    attempt: a.attempt,
    trigger: a.trigger,
    url: a.url,
    request_headers: a.requestHeaders,
    status_code: a.statusCode,
    success: a.success,
    response_headers: a.responseHeaders,
    response_body: a.responseBody,
    response_truncated: a.responseTruncated,
    duration_ms: a.durationMs,
    error: a.error,
    error_kind: a.errorKind,
    next_attempt_at: a.nextAttemptAt?.toISOString() ?? null,
    created_at: a.createdAt.toISOString(),
  };
}

const STATUS_RANGES: Record<string, [number, number]> = { '2xx': [200, 300], '3xx': [300, 400], '4xx': [400, 500], '5xx': [500, 600] };

/** A webhook's deliveries and attempts: the test send, logs, stats, resend and bulk recover. */
@Injectable()
export class DeliveriesService {
  private readonly attempts: Repository<DeliveryAttempt>;
  private readonly deliveries: Repository<Delivery>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly subscriptions: SubscriptionsService,
    private readonly events: EventsService,
    private readonly deliverer: Deliverer,
  ) {
    this.attempts = dataSource.getRepository(DeliveryAttempt);
    this.deliveries = dataSource.getRepository(Delivery);
  }

  /** Sends a `webhook.test` event to this webhook now (even when disabled), once, and returns the attempt. */
  async test(id: string, by: string): Promise<WebhookTestResultDto> {
    const sub = await this.subscriptions.find(id);
    const workerId = `test:${randomUUID()}`;
    const data = { webhook_id: sub.id, message: 'This is a test event sent from Hookhub.', requested_by: by };
    const created = await this.events.createClaimed(sub.id, { type: 'webhook.test', data, publishedBy: by }, workerId, sub.timeoutMs + 30_000, 'test');
    const row: ClaimedDelivery = {
      id: created.deliveryId,
      attempts: 1,
      recovered: false,
      event_id: created.eventId,
      subscription_id: sub.id,
      event_type: 'webhook.test',
      trigger: 'test',
      retry_base: 0,
      body: created.body,
      subscription_updated_at: sub.updatedAt,
    };
    const outcome = await this.deliverer.deliver(row, workerId, { health: false, retry: false });
    const attempt = outcome.attemptId ? await this.attempts.findOneBy({ id: outcome.attemptId }) : null;
    if (!attempt) throw HookhubError.conflict(`Webhook ${id} was deleted during the test`);
    return { event_id: created.eventId, delivery_id: created.deliveryId, attempt: toAttemptDto(attempt) };
  }

  /** The attempts of one webhook, newest first. */
  async logs(id: string, query: ListAttemptsQueryDto): Promise<Page<AttemptDto>> {
    await this.subscriptions.find(id);
    const qb = this.attempts.createQueryBuilder('a').where('a.subscription_id = :id', { id });
    return paginate(this.filtered(qb, query), 'a', query, toAttemptDto);
  }

  /** The attempts of every webhook in the last `hours` (default 24). */
  async recent(query: RecentAttemptsQueryDto): Promise<Page<AttemptDto>> {
    const since = new Date(Date.now() - (query.hours ?? 24) * 3600_000).toISOString();
    const from = query.from && query.from > since ? query.from : since;
    const qb = this.attempts.createQueryBuilder('a');
    return paginate(this.filtered(qb, { ...query, from }), 'a', query, toAttemptDto);
  }

  async listDeliveries(id: string, query: ListDeliveriesQueryDto): Promise<Page<DeliveryDto>> {
    await this.subscriptions.find(id);
    const qb = this.deliveries.createQueryBuilder('d').where('d.subscription_id = :id', { id });
    if (query.status) qb.andWhere('d.status = :status', { status: query.status });
    if (query.event_type) qb.andWhere('lower(d.event_type) = lower(:type)', { type: query.event_type });
    return paginate(createdBetween(qb, 'd', query), 'd', query, toDeliveryDto);
  }

  /** Deliveries and attempts of a webhook over a time range (default the last 24 h), from the attempt log. */
  async stats(id: string, query: StatsQueryDto): Promise<WebhookStatsDto> {
    const sub = await this.subscriptions.find(id);
    const to = query.to ? new Date(query.to) : new Date();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - 24 * 3600_000);
    if (from >= to) throw HookhubError.badRequest('from must be before to', [{ field: 'from', errors: ['from must be before to'] }]);
    const [deliveries] = (await this.dataSource.query(
      `SELECT count(*)::int AS total,
         count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
         count(*) FILTER (WHERE status = 'failed')::int AS failed,
         count(*) FILTER (WHERE status IN ('queued', 'running'))::int AS pending
       FROM deliveries WHERE subscription_id = $1 AND created_at >= $2 AND created_at < $3`,
      [id, from, to],
    )) as Array<{ total: number; succeeded: number; failed: number; pending: number }>;
    const [attempts] = (await this.dataSource.query(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE success)::int AS succeeded,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
       FROM delivery_attempts WHERE subscription_id = $1 AND created_at >= $2 AND created_at < $3`,
      [id, from, to],
    )) as Array<{ total: number; succeeded: number; p50: number | null; p95: number | null }>;
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
      last_success_at: sub.lastSuccessAt?.toISOString() ?? null,
      last_error: sub.lastError,
      last_error_at: sub.lastErrorAt?.toISOString() ?? null,
    };
  }

  /** Queues a finished delivery again now, with a fresh retry schedule (`trigger: manual`). */
  async resend(id: string, deliveryId: string): Promise<DeliveryDto> {
    await this.subscriptions.find(id);
    const delivery = isUuid(deliveryId) ? await this.deliveries.findOneBy({ id: deliveryId, subscriptionId: id }) : null;
    if (!delivery) throw HookhubError.notFound('Delivery', deliveryId);
    const rows = rowsOf(await this.dataSource.query(
      `UPDATE deliveries SET status = 'queued', trigger = 'manual', run_at = now(), retry_base = attempts, last_error = NULL,
         finished_at = NULL, updated_at = now()
       WHERE id = $1 AND status IN ('succeeded', 'failed', 'canceled') RETURNING id`,
      [deliveryId],
    ));
    if (!rows.length) throw HookhubError.conflict(`Delivery ${deliveryId} is ${delivery.status}; only finished deliveries can be sent again`);
    await this.events.wake();
    return toDeliveryDto(await this.deliveries.findOneByOrFail({ id: deliveryId }));
  }

  /** Queues again every failed delivery of a webhook created in [from, to) (`trigger: recover`). */
  async recover(id: string, dto: RecoverDto): Promise<RecoveredDto> {
    const sub = await this.subscriptions.find(id);
    if (!sub.enabled) throw HookhubError.conflict(`Webhook ${id} is disabled; enable it before recovering its deliveries`);
    const to = dto.to ?? new Date().toISOString();
    const rows = rowsOf(await this.dataSource.query(
      `UPDATE deliveries SET status = 'queued', trigger = 'recover', run_at = now(), retry_base = attempts, last_error = NULL,
         finished_at = NULL, updated_at = now()
       WHERE subscription_id = $1 AND status = 'failed' AND created_at >= $2 AND created_at < $3 RETURNING id`,
      [id, dto.from, to],
    ));
    if (rows.length) await this.events.wake();
    return { requeued: rows.length };
  }

  private filtered(qb: SelectQueryBuilder<DeliveryAttempt>, query: ListAttemptsQueryDto): SelectQueryBuilder<DeliveryAttempt> {
    if (query.success !== undefined) qb.andWhere('a.success = :success', { success: query.success });
    if (query.event_type) qb.andWhere('lower(a.event_type) = lower(:type)', { type: query.event_type });
    if (query.delivery_id) qb.andWhere('a.delivery_id = :deliveryId', { deliveryId: query.delivery_id });
    if (query.status_class === 'none') qb.andWhere('a.status_code IS NULL');
    else if (query.status_class) {
      const [lo, hi] = STATUS_RANGES[query.status_class];
      qb.andWhere('a.status_code >= :lo AND a.status_code < :hi', { lo, hi });
    }
    return createdBetween(qb, 'a', query);
  }
}
