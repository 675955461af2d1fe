import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { type Page, createdBetween, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { ListAttemptsQueryDto } from '../dto/webhooks.dto';
import { DeliveryAttempt } from '../entities/delivery-attempt.entity';
import type { DeliveryStatus, DeliveryTrigger } from '../entities/delivery.entity';

/** One attempt's outcome, as the deliverer has it. */
export interface AttemptRecord {
  deliveryId: string;
  /** The lease holder: a delivery whose lease was lost keeps its state; the attempt is still logged. */
  workerId: string;
  /** The delivery's next state. */
  status: Exclude<DeliveryStatus, 'running' | 'canceled'>;
  nextAt: Date | null;
  error: string | null;
  httpStatus: number | null;
  attemptId: string;
  eventId: string;
  webhookId: string;
  eventType: string;
  attempt: number;
  trigger: DeliveryTrigger;
  url: string;
  requestHeaders: Record<string, string>;
  success: boolean;
  responseHeaders: Record<string, string>;
  responseBody: string;
  responseTruncated: boolean;
  durationMs: number;
  errorKind: string | null;
  /** Counts toward the webhook's health (failing_since). */
  health: boolean;
}

export interface RecordedAttempt {
  /** False when the lease was lost and the delivery's state was left as it was. */
  updated: boolean;
  /** The webhook's `failing_since` after this batch, when the batch wrote its row. */
  failingSince: Date | null;
}

/** The attempt a lost worker may have made, logged with an unknown outcome (error kind `lost`). */
export interface LostAttempt {
  id: string;
  deliveryId: string;
  eventId: string;
  webhookId: string;
  eventType: string;
  attempt: number;
  trigger: string;
  url: string;
  error: string;
}

export interface AttemptCounts {
  total: number;
  succeeded: number;
  /** Median and 95th percentile of the durations, in ms; null without attempts. */
  p50: number | null;
  p95: number | null;
}

/**
 * Records a batch of attempts in one statement: each delivery's new state (under its lease), the attempt
 * rows, and each webhook's health once per batch. A webhook with a success in the batch is healthy again;
 * one whose attempts all failed keeps (or starts) its `failing_since`; its last error is the batch's latest.
 * The webhook row is only written on failures and, on success, when its health changes or its
 * `last_success_at` is more than a second old, so a busy webhook's row is not a point of contention.
 */
const RECORD_SQL = `
  WITH i AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::int[], $7::uuid[], $8::uuid[], $9::uuid[],
      $10::text[], $11::int[], $12::text[], $13::text[], $14::jsonb[], $15::boolean[], $16::jsonb[], $17::text[], $18::boolean[],
      $19::int[], $20::text[], $21::boolean[]) WITH ORDINALITY
    AS i(delivery_id, worker_id, status, next_at, error, http_status, attempt_id, event_id, webhook_id, event_type, attempt, trigger,
      url, request_headers, success, response_headers, response_body, response_truncated, duration_ms, error_kind, health, ord)
  ), d AS (
    UPDATE deliveries t SET status = i.status, run_at = coalesce(i.next_at, t.run_at), last_error = i.error, last_status = i.http_status,
      locked_by = NULL, locked_until = NULL, updated_at = now(),
      finished_at = CASE WHEN i.status IN ('succeeded', 'failed') THEN now() END
    FROM i WHERE t.id = i.delivery_id AND t.locked_by = i.worker_id AND t.status = 'running'
    RETURNING t.id
  ), a AS (
    INSERT INTO delivery_attempts (id, delivery_id, event_id, webhook_id, event_type, attempt, trigger, url, request_headers,
      status_code, success, response_headers, response_body, response_truncated, duration_ms, error, error_kind, next_attempt_at)
    SELECT attempt_id, delivery_id, event_id, webhook_id, event_type, attempt, trigger, url, request_headers,
      http_status, success, response_headers, response_body, response_truncated, duration_ms, error, error_kind, next_at
    FROM i ORDER BY ord
    ON CONFLICT (id) DO NOTHING
  ), h AS (
    SELECT webhook_id, bool_or(success) AS any_success, bool_or(NOT success) AS any_failure, bool_or(NOT success AND health) AS unhealthy,
      (array_agg(error ORDER BY ord DESC) FILTER (WHERE NOT success))[1] AS error
    FROM i GROUP BY webhook_id
  ), s AS (
    UPDATE webhooks SET
      last_success_at = CASE WHEN h.any_success THEN now() ELSE last_success_at END,
      failing_since = CASE WHEN h.any_success THEN NULL WHEN h.unhealthy THEN coalesce(failing_since, now()) ELSE failing_since END,
      last_error = CASE WHEN h.any_failure THEN h.error ELSE last_error END,
      last_error_at = CASE WHEN h.any_failure THEN now() ELSE last_error_at END
    FROM h
    WHERE webhooks.id = h.webhook_id
      AND (h.any_failure OR failing_since IS NOT NULL OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')
    RETURNING webhooks.id, webhooks.failing_since
  )
  SELECT i.ord::int AS ord, EXISTS (SELECT 1 FROM d WHERE d.id = i.delivery_id) AS updated, s.failing_since
  FROM i LEFT JOIN s ON s.id = i.webhook_id
  ORDER BY i.ord`;

const STATUS_RANGES: Record<string, [number, number]> = {
  '2xx': [200, 300],
  '3xx': [300, 400],
  '4xx': [400, 500],
  '5xx': [500, 600],
};

/**
 * The `delivery_attempts` table: the attempt log (recorded in batches), the webhook logs and the stats read
 * from it, and its retention. The only code with SQL for it.
 */
@Injectable()
export class DeliveryAttemptStore {
  constructor(
    @InjectRepository(DeliveryAttempt) private readonly attempts: Repository<DeliveryAttempt>,
    private readonly db: Db,
  ) {}

  /**
   * Records a batch of attempts with one prepared statement (see RECORD_SQL); one answer per item, in order. The
   * statement also writes `deliveries` (each one's next state, under its lease) and `webhooks` (each
   * webhook's health), so a batch costs one round trip and one commit; it lives here because it records attempts.
   */
  async recordBatch(items: AttemptRecord[]): Promise<RecordedAttempt[]> {
    const column = <K extends keyof AttemptRecord>(key: K) => items.map((x) => x[key]);
    const json = (key: 'requestHeaders' | 'responseHeaders') => items.map((x) => JSON.stringify(x[key]));
    const rows = await this.db.prepared<{ ord: number; updated: boolean; failing_since: Date | null }>(
      'hookhub_attempt_record',
      RECORD_SQL,
      [
        column('deliveryId'),
        column('workerId'),
        column('status'),
        column('nextAt'),
        column('error'),
        column('httpStatus'),
        column('attemptId'),
        column('eventId'),
        column('webhookId'),
        column('eventType'),
        column('attempt'),
        column('trigger'),
        column('url'),
        json('requestHeaders'),
        column('success'),
        json('responseHeaders'),
        column('responseBody'),
        column('responseTruncated'),
        items.map((x) => Math.round(x.durationMs)),
        column('errorKind'),
        column('health'),
      ],
    );
    return rows.map((r) => ({ updated: r.updated, failingSince: r.failing_since ? new Date(r.failing_since) : null }));
  }

  /** Logs the attempt of a lost worker, unless that attempt of the delivery is logged already. */
  async recordLost(lost: LostAttempt): Promise<void> {
    await this.db.exec(
      `INSERT INTO delivery_attempts (id, delivery_id, event_id, webhook_id, event_type, attempt, trigger, url, request_headers, status_code, success,
         response_headers, response_body, response_truncated, duration_ms, error, error_kind, next_attempt_at)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, '{}'::jsonb, NULL, false, '{}'::jsonb, '', false, 0, $9, 'lost', NULL
       WHERE NOT EXISTS (SELECT 1 FROM delivery_attempts WHERE delivery_id = $2 AND attempt = $6)`,
      [
        lost.id,
        lost.deliveryId,
        lost.eventId,
        lost.webhookId,
        lost.eventType,
        lost.attempt,
        lost.trigger,
        lost.url,
        lost.error,
      ],
    );
  }

  findById(id: string): Promise<DeliveryAttempt | null> {
    return this.attempts.findOneBy({ id });
  }

  /** A page of attempts, newest first: of one webhook, or of all when `webhookId` is null. */
  page<R>(webhookId: string | null, query: ListAttemptsQueryDto, map: (a: DeliveryAttempt) => R): Promise<Page<R>> {
    const qb = this.attempts.createQueryBuilder('a');
    if (webhookId !== null) qb.where('a.webhook_id = :id', { id: webhookId });
    if (query.success !== undefined) qb.andWhere('a.success = :success', { success: query.success });
    if (query.event_type) qb.andWhere('lower(a.event_type) = lower(:type)', { type: query.event_type });
    if (query.delivery_id) qb.andWhere('a.delivery_id = :deliveryId', { deliveryId: query.delivery_id });
    if (query.status_class === 'none') qb.andWhere('a.status_code IS NULL');
    else if (query.status_class) {
      const [lo, hi] = STATUS_RANGES[query.status_class];
      qb.andWhere('a.status_code >= :lo AND a.status_code < :hi', { lo, hi });
    }
    return paginate(createdBetween(qb, 'a', query), 'a', query, map);
  }

  /** Attempts made in [from, to) (of one webhook, or of all): how many, how many succeeded, duration percentiles. */
  async countsOf(webhookId: string | undefined, from: Date, to: Date): Promise<AttemptCounts> {
    const [counts] = await this.db.rows<AttemptCounts>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE success)::int AS succeeded,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
       FROM delivery_attempts
       WHERE created_at >= $2 AND created_at < $3 AND ($1::uuid IS NULL OR webhook_id = $1::uuid)`,
      [webhookId ?? null, from, to],
    );
    return counts;
  }

  /**
   * Attempts made in [from, to) (of one webhook, or of all), counted per hour or day: how many, how many
   * succeeded. Periods without attempts are left out.
   */
  outcomesPer(
    unit: 'hour' | 'day',
    from: Date,
    to: Date,
    webhookId?: string,
  ): Promise<Array<{ start: Date; total: number; succeeded: number }>> {
    return this.db.rows(
      `SELECT date_trunc($1, created_at) AS start, count(*)::int AS total,
         count(*) FILTER (WHERE success)::int AS succeeded
       FROM delivery_attempts
       WHERE created_at >= $2 AND created_at < $3 AND ($4::uuid IS NULL OR webhook_id = $4::uuid)
       GROUP BY 1 ORDER BY 1`,
      [unit, from, to, webhookId ?? null],
    );
  }

  /** Deletes up to `limit` of the oldest attempts made before `cutoff`; how many. */
  deleteOlderThan(cutoff: Date, limit: number): Promise<number> {
    return this.db.exec(
      `DELETE FROM delivery_attempts WHERE id IN (SELECT id FROM delivery_attempts WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
      [cutoff, limit],
    );
  }
}
