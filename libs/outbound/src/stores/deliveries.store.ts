import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig, type Page, type QueueDepth, createdBetween, paginate } from '@hookhub/core';
import { type ClaimedRow, Db, DUE_BY, QueueNotifier, WorkQueue } from '@hookhub/store';
import type { ListDeliveriesQueryDto } from '../dto/webhooks.dto';
import { Delivery, type DeliveryTrigger } from '../entities/delivery.entity';

export const DELIVERY_QUEUE = 'deliveries';

/** A claimed delivery with what sending it needs: the event body and the webhook's version. */
export interface ClaimedDelivery extends ClaimedRow {
  event_id: string;
  webhook_id: string;
  event_type: string;
  trigger: DeliveryTrigger;
  retry_base: number;
  body: string;
  webhook_updated_at: Date;
  /** When the event was published (for the publish-to-delivery latency); absent for a webhook test. */
  event_created_at?: Date;
}

/** An event row as the publish statements write it; `body` is the exact JSON sent to webhooks. */
export interface EventRow {
  id: string;
  type: string;
  body: string;
  bytes: number;
  occurredAt: Date;
  idempotencyKey: string | null;
  publishedBy: string;
}

/** What the one-statement fan-out did: stored everything, or (a candidate has a payload filter) nothing. */
export interface FanOutResult {
  stored: boolean;
  /** Matching enabled webhooks (before payload filters). */
  deliveries: number;
  /** The candidates to filter, when nothing was stored. */
  candidates: Array<{ id: string; payload_filter: unknown; updated_at: string }>;
}

export interface DeliveryCounts {
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
}

/** The advisory lock a claimer holds on a webhook while it counts and claims its deliveries. */
const WEBHOOK_LOCK = `hashtextextended('hookhub:webhook:' || webhook_id, 0)`;

/**
 * A claim's first step: the webhooks with deliveries due and room under their in-flight limit (`max_in_flight`,
 * else `$2`, HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT), oldest due delivery first, at most `$1`, each locked for
 * this claim (a `try` lock: a webhook another claimer is taking from is left to it, and the claim goes on to
 * the next one; the limit is applied after the locks, which are tried one webhook at a time in that order).
 *
 * It does not read the due deliveries in time order over all webhooks, where a webhook at its limit with a
 * large backlog would have to be read through to find anyone else's delivery. It skips through the queue
 * index from one webhook to the next (a loose index scan) and reads each webhook's head: the cost follows
 * the number of webhooks with queued deliveries, not the number of deliveries.
 */
const READY_SQL = `
  WITH RECURSIVE hooks AS (
    (SELECT d.webhook_id FROM deliveries d WHERE d.status = 'queued' ORDER BY d.webhook_id LIMIT 1)
    UNION ALL
    SELECT (SELECT d.webhook_id FROM deliveries d WHERE d.status = 'queued' AND d.webhook_id > h.webhook_id
            ORDER BY d.webhook_id LIMIT 1)
    FROM hooks h WHERE h.webhook_id IS NOT NULL
  ), heads AS (
    SELECT h.webhook_id, head.run_at FROM hooks h
    CROSS JOIN LATERAL (
      SELECT d.run_at FROM deliveries d
      WHERE d.webhook_id = h.webhook_id AND d.status = 'queued' AND d.run_at <= ${DUE_BY}
      ORDER BY d.run_at, d.id LIMIT 1) head
    JOIN webhooks s ON s.id = h.webhook_id
    WHERE h.webhook_id IS NOT NULL
      AND (SELECT count(*) FROM deliveries r WHERE r.webhook_id = h.webhook_id AND r.status = 'running')
          < coalesce(s.max_in_flight, $2)
  )
  SELECT webhook_id FROM (SELECT webhook_id, run_at FROM heads ORDER BY run_at OFFSET 0) x
  WHERE pg_try_advisory_xact_lock(${WEBHOOK_LOCK})
  LIMIT $1`;

/**
 * A claim's second step, a statement of its own so that it sees every claim committed before it took the
 * webhooks' locks: each locked webhook's room (its limit less its running deliveries, counted exactly: only
 * the holder of a webhook's lock adds to them), shared evenly among them so that one webhook's backlog does
 * not take a whole claim, then the oldest due deliveries within that room. Deliveries whose lease expired
 * (their worker stopped) are taken back too: they still count as running, so taking them adds nothing.
 */
const CLAIM_SQL = `
  WITH ready AS (
    SELECT s.id AS webhook_id, coalesce(s.max_in_flight, $4)
      - (SELECT count(*) FROM deliveries r WHERE r.webhook_id = s.id AND r.status = 'running')::int AS room
    FROM webhooks s WHERE s.id = ANY($5::uuid[])
  ), share AS (
    SELECT ceil($1::numeric / greatest((SELECT count(*) FROM ready WHERE room > 0), 1))::int AS per
  ), due AS (
    SELECT c.id, c.run_at FROM ready r CROSS JOIN share
    CROSS JOIN LATERAL (
      SELECT d.id, d.run_at FROM deliveries d
      WHERE d.webhook_id = r.webhook_id AND d.status = 'queued' AND d.run_at <= ${DUE_BY}
      ORDER BY d.run_at, d.id LIMIT least(r.room, share.per)
      FOR UPDATE SKIP LOCKED) c
    WHERE r.room > 0
  ), expired AS (
    SELECT d.id, d.locked_until AS run_at FROM deliveries d
    WHERE d.status = 'running' AND d.locked_until < now()
    ORDER BY d.locked_until LIMIT $1
    FOR UPDATE SKIP LOCKED
  ), chosen AS (
    SELECT id, recovered FROM (
      SELECT id, true AS recovered, run_at FROM expired UNION ALL SELECT id, false, run_at FROM due
    ) x ORDER BY recovered DESC, run_at, id LIMIT $1
  )
  UPDATE deliveries t
  SET status = 'running', locked_by = $2, locked_until = now() + ($3::int * interval '1 millisecond'),
      attempts = t.attempts + 1, updated_at = now()
  FROM chosen c, events e, webhooks s
  WHERE t.id = c.id AND e.id = t.event_id AND s.id = t.webhook_id
  RETURNING t.id, t.event_id, t.webhook_id, t.event_type, t.trigger, t.attempts, t.retry_base, c.recovered,
    e.body, s.updated_at AS webhook_updated_at, e.created_at AS event_created_at`;

/**
 * Stores an event and one delivery per matching enabled webhook in one statement, when no candidate
 * has a payload filter (the usual case): one round trip, atomic without BEGIN/COMMIT. When a candidate has
 * one, nothing is stored and the candidates come back, to be filtered by the caller and stored by
 * {@link DeliveryStore.insertForTargets}.
 */
const FAN_OUT_SQL = `
  WITH c AS (
    SELECT id, payload_filter, updated_at FROM webhooks WHERE enabled AND event_filters && $9::text[]
  ), plain AS (
    SELECT NOT EXISTS (SELECT 1 FROM c WHERE payload_filter IS NOT NULL) AS ok
  ), e AS (
    INSERT INTO events (id, type, body, bytes, occurred_at, idempotency_key, published_by, delivery_count)
    SELECT $1, $2, $3, $4, $5, $6, $7, (SELECT count(*) FROM c) FROM plain WHERE plain.ok
    RETURNING id
  ), d AS (
    INSERT INTO deliveries (event_id, webhook_id, event_type, trigger) SELECT e.id, c.id, $2, $8 FROM e, c
  )
  SELECT p.ok AS stored, (SELECT count(*)::int FROM c) AS deliveries,
    CASE WHEN p.ok THEN '[]'::json ELSE (SELECT json_agg(json_build_object('id', id, 'payload_filter', payload_filter, 'updated_at', updated_at)) FROM c) END AS candidates
  FROM plain p`;

/**
 * The delivery queue over `deliveries`: the store lib's work queue (complete / reschedule / fail / extend
 * the lease / wake), with per-webhook in-flight limits applied at claim time. Only {@link DeliveryStore}
 * makes one.
 */
class DeliveryQueue extends WorkQueue {
  constructor(
    db: Db,
    notifier: QueueNotifier,
    /** HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT: the in-flight limit of a webhook without its own. */
    private readonly webhookInFlight: number,
  ) {
    super(db, notifier, { name: DELIVERY_QUEUE, table: 'deliveries' });
  }

  /**
   * Claims up to `limit` due deliveries, never more for one webhook than its in-flight limit counting what
   * every worker has in flight, and skipping webhooks at their limit without reading their backlog: the
   * webhooks are picked and locked first (READY_SQL), then their deliveries claimed (CLAIM_SQL).
   */
  override async claim(workerId: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    return this.db.transaction(async (m) => {
      const ready = await this.db.prepared<{ webhook_id: string }>(
        'hookhub_delivery_ready',
        READY_SQL,
        [limit, this.webhookInFlight],
        m,
      );
      return this.db.prepared<ClaimedDelivery>(
        'hookhub_delivery_claim',
        CLAIM_SQL,
        [limit, workerId, leaseMs, this.webhookInFlight, ready.map((r) => r.webhook_id)],
        m,
      );
    });
  }
}

export type { DeliveryQueue };

/**
 * The `deliveries` table: the delivery queue (claims, leases, wake-ups), the fan-out of published events,
 * resend and recover, and the lists and counts of the API. The only code with SQL for it.
 */
@Injectable()
export class DeliveryStore {
  /** The queue a delivery worker runs on (`QueueWorker`); claims and lease changes go through it. */
  readonly queue: DeliveryQueue;

  constructor(
    @InjectRepository(Delivery) private readonly deliveries: Repository<Delivery>,
    private readonly db: Db,
    notifier: QueueNotifier,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.queue = new DeliveryQueue(db, notifier, config.outbound.webhookInFlight);
  }

  /**
   * Stores the event and its deliveries in one statement (see FAN_OUT_SQL), inside `m`'s transaction when
   * given, else on its own as a prepared statement. It writes `events` too, and lives here, because what it
   * decides is the deliveries: which webhooks get one, all in the one round trip of a publish.
   */
  async fanOut(
    event: EventRow,
    trigger: DeliveryTrigger,
    candidates: string[],
    m?: EntityManager,
  ): Promise<FanOutResult> {
    const params = [
      event.id,
      event.type,
      event.body,
      event.bytes,
      event.occurredAt,
      event.idempotencyKey,
      event.publishedBy,
      trigger,
      candidates,
    ];
    const [first] = m
      ? await this.db.rows<FanOutResult>(FAN_OUT_SQL, params, m)
      : await this.db.prepared<FanOutResult>('hookhub_event_fan_out', FAN_OUT_SQL, params);
    return first;
  }

  /**
   * Stores the event and a delivery to each of `targets`, in one statement (which is why it writes `events`
   * from here, as {@link fanOut} does); `deliveryCount` when the caller adds deliveries itself.
   */
  async insertForTargets(
    event: EventRow,
    targets: string[],
    trigger: DeliveryTrigger,
    deliveryCount: number,
    m?: EntityManager,
  ): Promise<void> {
    await this.db.exec(
      `WITH e AS (
         INSERT INTO events (id, type, body, bytes, occurred_at, idempotency_key, published_by, delivery_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id)
       INSERT INTO deliveries (event_id, webhook_id, event_type, trigger)
       SELECT e.id, s, $2, $10 FROM e, unnest($9::uuid[]) AS s`,
      [
        event.id,
        event.type,
        event.body,
        event.bytes,
        event.occurredAt,
        event.idempotencyKey,
        event.publishedBy,
        deliveryCount,
        targets,
        trigger,
      ],
      m,
    );
  }

  /** Stores a delivery already claimed by `workerId` for `leaseMs` (a webhook test is sent at once, not queued). */
  async insertClaimed(
    d: {
      id: string;
      eventId: string;
      webhookId: string;
      eventType: string;
      trigger: DeliveryTrigger;
      workerId: string;
      leaseMs: number;
    },
    m?: EntityManager,
  ): Promise<void> {
    await this.db.exec(
      `INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, trigger, attempts, locked_by, locked_until)
       VALUES ($1, $2, $3, $4, 'running', $5, 1, $6, now() + ($7::int * interval '1 millisecond'))`,
      [d.id, d.eventId, d.webhookId, d.eventType, d.trigger, d.workerId, d.leaseMs],
      m,
    );
  }

  /** Gives up on a claimed delivery (its webhook is disabled); false when the lease was lost. */
  failClaimed(id: string, workerId: string, error: string): Promise<boolean> {
    return this.queue.fail(id, workerId, error, 'failed');
  }

  /** Puts a claimed delivery back without counting it as an attempt (its webhook's rate limit was full). */
  async release(id: string, workerId: string, delayMs: number): Promise<void> {
    await this.db.exec(
      `UPDATE deliveries SET status = 'queued', run_at = now() + ($3::int * interval '1 millisecond'), attempts = greatest(attempts - 1, 0),
         locked_by = NULL, locked_until = NULL, updated_at = now()
       WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
      [id, workerId, Math.max(1, Math.round(delayMs))],
    );
  }

  /** Wakes idle delivery workers. Call after the enqueueing transaction committed. */
  wake(): Promise<void> {
    return this.queue.wake();
  }

  /** Fails the queued deliveries of a webhook that was disabled (bulk recover queues them again). */
  async failQueuedOf(webhookId: string, error: string, m?: EntityManager): Promise<void> {
    await this.db.exec(
      `UPDATE deliveries SET status = 'failed', last_error = $2, updated_at = now(), finished_at = now()
       WHERE webhook_id = $1 AND status = 'queued'`,
      [webhookId, error],
      m,
    );
  }

  /** Queues a finished delivery again now, with a fresh retry schedule (`trigger: manual`); false when it is not finished. */
  async requeueFinished(id: string): Promise<boolean> {
    const rows = await this.db.rows<{ id: string }>(
      `UPDATE deliveries SET status = 'queued', trigger = 'manual', run_at = now(), retry_base = attempts, last_error = NULL,
         finished_at = NULL, updated_at = now()
       WHERE id = $1 AND status IN ('succeeded', 'failed', 'canceled') RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  /** Queues again every failed delivery of a webhook created in [from, to) (`trigger: recover`); how many. */
  async requeueFailed(webhookId: string, from: string, to: string): Promise<number> {
    const rows = await this.db.rows<{ id: string }>(
      `UPDATE deliveries SET status = 'queued', trigger = 'recover', run_at = now(), retry_base = attempts, last_error = NULL,
         finished_at = NULL, updated_at = now()
       WHERE webhook_id = $1 AND status = 'failed' AND created_at >= $2 AND created_at < $3 RETURNING id`,
      [webhookId, from, to],
    );
    return rows.length;
  }

  findById(id: string): Promise<Delivery | null> {
    return this.deliveries.findOneBy({ id });
  }

  /** The delivery, if it belongs to that webhook. */
  findOfWebhook(id: string, webhookId: string): Promise<Delivery | null> {
    return this.deliveries.findOneBy({ id, webhookId });
  }

  /** An event's deliveries, oldest first, at most `limit`. */
  listOfEvent(eventId: string, limit: number): Promise<Delivery[]> {
    return this.deliveries.find({ where: { eventId }, order: { createdAt: 'ASC', id: 'ASC' }, take: limit });
  }

  /** A page of a webhook's deliveries, newest first, filtered by status, event type and creation time. */
  page<R>(webhookId: string, query: ListDeliveriesQueryDto, map: (d: Delivery) => R): Promise<Page<R>> {
    const qb = this.deliveries.createQueryBuilder('d').where('d.webhook_id = :id', { id: webhookId });
    if (query.status) qb.andWhere('d.status = :status', { status: query.status });
    if (query.event_type) qb.andWhere('lower(d.event_type) = lower(:type)', { type: query.event_type });
    return paginate(createdBetween(qb, 'd', query), 'd', query, map);
  }

  /** The queue's backlog for /metrics (the work queue's own count over this table). */
  depth(): Promise<QueueDepth> {
    return this.queue.depth();
  }

  /** Deliveries waiting: all queued ones (due now or retrying later), those due now, and the oldest due's wait. */
  async backlog(): Promise<{ queued: number; due: number; oldestDueAgeSeconds: number }> {
    const [row] = await this.db.rows<{ queued: number; due: number; oldestDueAgeSeconds: number }>(
      `SELECT count(*)::int AS queued, count(*) FILTER (WHERE run_at <= now())::int AS due,
         coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)::float8
           AS "oldestDueAgeSeconds"
       FROM deliveries WHERE status = 'queued'`,
    );
    return row;
  }

  /** A webhook's deliveries created in [from, to), by outcome. */
  async countsOf(webhookId: string, from: Date, to: Date): Promise<DeliveryCounts> {
    const [counts] = await this.db.rows<DeliveryCounts>(
      `SELECT count(*)::int AS total,
         count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
         count(*) FILTER (WHERE status = 'failed')::int AS failed,
         count(*) FILTER (WHERE status IN ('queued', 'running'))::int AS pending
       FROM deliveries WHERE webhook_id = $1 AND created_at >= $2 AND created_at < $3`,
      [webhookId, from, to],
    );
    return counts;
  }
}
