import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { GroupCommit, StoreRuntime, queryPrepared } from '@hookhub/store';
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
  subscriptionId: string;
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

const MAX_BATCH = 500;

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
    AS i(delivery_id, worker_id, status, next_at, error, http_status, attempt_id, event_id, subscription_id, event_type, attempt, trigger,
      url, request_headers, success, response_headers, response_body, response_truncated, duration_ms, error_kind, health, ord)
  ), d AS (
    UPDATE deliveries t SET status = i.status, run_at = coalesce(i.next_at, t.run_at), last_error = i.error, last_status = i.http_status,
      locked_by = NULL, locked_until = NULL, updated_at = now(),
      finished_at = CASE WHEN i.status IN ('succeeded', 'failed') THEN now() END
    FROM i WHERE t.id = i.delivery_id AND t.locked_by = i.worker_id AND t.status = 'running'
    RETURNING t.id
  ), a AS (
    INSERT INTO delivery_attempts (id, delivery_id, event_id, subscription_id, event_type, attempt, trigger, url, request_headers,
      status_code, success, response_headers, response_body, response_truncated, duration_ms, error, error_kind, next_attempt_at)
    SELECT attempt_id, delivery_id, event_id, subscription_id, event_type, attempt, trigger, url, request_headers,
      http_status, success, response_headers, response_body, response_truncated, duration_ms, error, error_kind, next_at
    FROM i ORDER BY ord
    ON CONFLICT (id) DO NOTHING
  ), h AS (
    SELECT subscription_id, bool_or(success) AS any_success, bool_or(NOT success) AS any_failure, bool_or(NOT success AND health) AS unhealthy,
      (array_agg(error ORDER BY ord DESC) FILTER (WHERE NOT success))[1] AS error
    FROM i GROUP BY subscription_id
  ), s AS (
    UPDATE subscriptions SET
      last_success_at = CASE WHEN h.any_success THEN now() ELSE last_success_at END,
      failing_since = CASE WHEN h.any_success THEN NULL WHEN h.unhealthy THEN coalesce(failing_since, now()) ELSE failing_since END,
      last_error = CASE WHEN h.any_failure THEN h.error ELSE last_error END,
      last_error_at = CASE WHEN h.any_failure THEN now() ELSE last_error_at END
    FROM h
    WHERE subscriptions.id = h.subscription_id
      AND (h.any_failure OR failing_since IS NOT NULL OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')
    RETURNING subscriptions.id, subscriptions.failing_since
  )
  SELECT i.ord::int AS ord, EXISTS (SELECT 1 FROM d WHERE d.id = i.delivery_id) AS updated, s.failing_since
  FROM i LEFT JOIN s ON s.id = i.subscription_id
  ORDER BY i.ord`;

/**
 * Group commit for delivery attempts: the workers' outcomes are written together, one statement (one
 * round trip, one commit) per batch, and each worker goes on once its batch committed. Until then the
 * delivery stays leased, so a crash in between sends it again (at least once), never loses it.
 */
@Injectable()
export class AttemptRecorder {
  private readonly logger = new Logger('AttemptRecorder');
  private readonly batches: GroupCommit<AttemptRecord, RecordedAttempt>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly runtime: StoreRuntime,
  ) {
    // One batch at a time: while it commits the next fills up. Measured with the outbound benchmark, this
    // cost Postgres less than four smaller batches at once, for the same delivery rate.
    this.batches = new GroupCommit((items) => this.writeBatch(items), {
      maxBatch: MAX_BATCH,
      maxFlushes: 1,
      onSplit: (size, err) => this.logger.warn(`a batch of ${size} attempts failed (${(err as Error).message}); writing them one by one`),
    });
  }

  record(attempt: AttemptRecord): Promise<RecordedAttempt> {
    return this.batches.write(attempt);
  }

  /**
   * Logs the attempt of a worker that was lost (crashed, killed, cut off from the store) after it claimed a
   * delivery: the request may have reached the receiver, so it counts, with an unknown outcome. Called when
   * another worker takes the delivery over after its lease ran out, so attempts in the log equal requests
   * that may have been sent.
   */
  async recordLost(lost: { deliveryId: string; eventId: string; subscriptionId: string; eventType: string; attempt: number; trigger: string; url: string }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO delivery_attempts (id, delivery_id, event_id, subscription_id, event_type, attempt, trigger, url, request_headers, status_code, success,
         response_headers, response_body, response_truncated, duration_ms, error, error_kind, next_attempt_at)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, '{}'::jsonb, NULL, false, '{}'::jsonb, '', false, 0, $9, 'lost', NULL
       WHERE NOT EXISTS (SELECT 1 FROM delivery_attempts WHERE delivery_id = $2 AND attempt = $6)`,
      [randomUUID(), lost.deliveryId, lost.eventId, lost.subscriptionId, lost.eventType, lost.attempt, lost.trigger, lost.url,
        'worker lost: the worker sending this attempt stopped before recording its outcome (the receiver may have got it)'],
    );
  }

  private async writeBatch(items: AttemptRecord[]): Promise<RecordedAttempt[]> {
    const column = <K extends keyof AttemptRecord>(key: K) => items.map((x) => x[key]);
    const json = (key: 'requestHeaders' | 'responseHeaders') => items.map((x) => JSON.stringify(x[key]));
    const rows = await queryPrepared<{ ord: number; updated: boolean; failing_since: Date | null }>(this.dataSource, this.runtime.isEmbedded, 'hookhub_attempt_record', RECORD_SQL, [
      column('deliveryId'), column('workerId'), column('status'), column('nextAt'), column('error'), column('httpStatus'), column('attemptId'),
      column('eventId'), column('subscriptionId'), column('eventType'), column('attempt'), column('trigger'), column('url'), json('requestHeaders'),
      column('success'), json('responseHeaders'), column('responseBody'), column('responseTruncated'), items.map((x) => Math.round(x.durationMs)),
      column('errorKind'), column('health'),
    ]);
    return rows.map((r) => ({ updated: r.updated, failingSince: r.failing_since ? new Date(r.failing_since) : null }));
  }
}
