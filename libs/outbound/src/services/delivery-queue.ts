import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { type ClaimedRow, QueueNotifier, StoreRuntime, WorkQueue, queryPrepared, rowsOf } from '@hookhub/store';
import type { DeliveryTrigger } from '../entities/delivery.entity';

export const DELIVERY_QUEUE = 'deliveries';

/** A claimed delivery with what sending it needs: the event body and the subscription's version. */
export interface ClaimedDelivery extends ClaimedRow {
  event_id: string;
  subscription_id: string;
  event_type: string;
  trigger: DeliveryTrigger;
  retry_base: number;
  body: string;
  subscription_updated_at: Date;
}

/**
 * Claims due deliveries, oldest first, but never more for one subscription than its in-flight limit
 * (`max_in_flight`, else HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT) counting what every worker already has in
 * flight. Subscriptions at their limit are skipped, so a slow endpoint's backlog does not hold the queue.
 *
 * The candidates are chosen without locks and only the chosen rows are locked (`SKIP LOCKED`, with the
 * due condition checked again on the row's latest version), so a claim for one slot locks one row, not
 * the whole look-ahead window. A row another worker took in the meantime is skipped, not claimed twice.
 */
const CLAIM_SQL = `
  WITH running AS (
    SELECT r.subscription_id, count(*)::int AS n FROM deliveries r
    WHERE r.status = 'running' AND r.locked_until >= now()
    GROUP BY r.subscription_id
  ), due AS (
    SELECT d.id, d.subscription_id, d.run_at
    FROM deliveries d
    WHERE ((d.status = 'queued' AND d.run_at <= now()) OR (d.status = 'running' AND d.locked_until < now()))
      AND d.subscription_id NOT IN (
        SELECT r.subscription_id FROM running r JOIN subscriptions s ON s.id = r.subscription_id WHERE r.n >= coalesce(s.max_in_flight, $4))
    ORDER BY d.run_at, d.id
    LIMIT $5
  ), ranked AS (
    SELECT due.id, due.run_at,
      row_number() OVER (PARTITION BY due.subscription_id ORDER BY due.run_at, due.id) AS n,
      coalesce(s.max_in_flight, $4) - coalesce(r.n, 0) AS room
    FROM due JOIN subscriptions s ON s.id = due.subscription_id LEFT JOIN running r ON r.subscription_id = due.subscription_id
  ), chosen AS (
    SELECT d.id, d.status = 'running' AS recovered FROM deliveries d
    WHERE d.id IN (SELECT id FROM ranked WHERE n <= room ORDER BY run_at, id LIMIT $1)
      AND ((d.status = 'queued' AND d.run_at <= now()) OR (d.status = 'running' AND d.locked_until < now()))
    FOR UPDATE OF d SKIP LOCKED
  )
  UPDATE deliveries t
  SET status = 'running', locked_by = $2, locked_until = now() + ($3::int * interval '1 millisecond'),
      attempts = t.attempts + 1, updated_at = now()
  FROM chosen c, events e, subscriptions s
  WHERE t.id = c.id AND e.id = t.event_id AND s.id = t.subscription_id
  RETURNING t.id, t.event_id, t.subscription_id, t.event_type, t.trigger, t.attempts, t.retry_base, c.recovered,
    e.body, s.updated_at AS subscription_updated_at`;

/** The delivery queue over `deliveries`, with per-subscription in-flight limits applied at claim time. */
@Injectable()
export class DeliveryQueue extends WorkQueue {
  constructor(
    dataSource: DataSource,
    notifier: QueueNotifier,
    private readonly runtime: StoreRuntime,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(dataSource, notifier, { name: DELIVERY_QUEUE, table: 'deliveries' });
  }

  override async claim(workerId: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    const lookAhead = Math.min(limit * 4 + 16, 1000);
    // An UPDATE through TypeORM's query() (the embedded store's path) answers [rows, count].
    return rowsOf<ClaimedDelivery>(await queryPrepared<unknown>(this.dataSource, this.runtime.isEmbedded, 'hookhub_delivery_claim', CLAIM_SQL, [
      limit, workerId, leaseMs, this.config.outbound.subscriptionInFlight, lookAhead,
    ]));
  }

  /** Puts a claimed delivery back without counting it as an attempt (its subscription's rate limit was full). */
  async release(id: string, workerId: string, delayMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE deliveries SET status = 'queued', run_at = now() + ($3::int * interval '1 millisecond'), attempts = greatest(attempts - 1, 0),
         locked_by = NULL, locked_until = NULL, updated_at = now()
       WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
      [id, workerId, Math.max(1, Math.round(delayMs))],
    );
  }
}
