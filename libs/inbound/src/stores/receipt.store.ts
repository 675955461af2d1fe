import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { type Page, createdBetween, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { PreparedRun } from '@hookhub/tasks';
import type { ListReceiptsQueryDto } from '../dto/receipts.dto';
import { type MatchedRule, Receipt, type Verdict } from '../entities/receipt.entity';

/** A receipt row as written. */
export interface ReceiptRow {
  id: string;
  source_id: string | null;
  slug: string;
  delivery_id: string | null;
  method: string;
  ip: string | null;
  event: string | null;
  verdict: Verdict;
  reason: string | null;
  status_code: number;
  headers: Record<string, string>;
  body: string | null;
  body_bytes: number;
  body_truncated: boolean;
  matched_rules: MatchedRule[];
  task_ids: string[];
  duplicate_of: string | null;
  duration_ms: number;
}

/**
 * One receipt of a batch: its index `i` in the batch, the de-duplication key it claims, if any, and the task
 * runs it starts (stored only if it wins its key).
 */
export interface BatchReceipt {
  i: number;
  r: ReceiptRow;
  d: { source_id: string; delivery_id: string; window_seconds: number } | null;
  t: readonly PreparedRun[];
}

/** The earlier receipt a duplicate delivery points to. */
export interface OriginalReceipt {
  receipt_id: string;
  task_ids: string[];
  matched: boolean;
  status_code: number;
}

/**
 * A receipt of a batch whose key was already held: the original it is a duplicate of, or a null
 * `receipt_id` when the original was still being committed (see {@link ReceiptStore.pointAtOriginals}).
 */
export interface LostReceipt {
  i: number;
  receipt_id: string | null;
  task_ids: string[];
  matched: boolean;
  status_code: number;
}

/** A duplicate receipt to point at the original holding its key. */
export interface RacedReceipt {
  i: number;
  id: string;
  source_id: string;
  delivery_id: string;
}

/** The record of a prepared run (TaskRunStore's, see BATCH_SQL). */
const RUN_RECORD = `id uuid, program_id uuid, program_name text, trigger text, receipt_id uuid, source_id uuid, rule_id uuid,
  retry_of uuid, triggered_by text, attempt int, max_attempts int, argv jsonb, env jsonb, concurrency_key text, delay_seconds int`;

const RECEIPT_RECORD = `id uuid, source_id uuid, slug text, delivery_id text, method text, ip text, event text, verdict text, reason text,
  status_code int, headers jsonb, body text, body_bytes int, body_truncated boolean, matched_rules jsonb, task_ids uuid[],
  duplicate_of uuid, duration_ms real`;

/**
 * One statement writes a whole batch of receipts with their de-duplication rows and the task runs of the
 * receipts that won their key (one round trip, atomic without BEGIN/COMMIT, prepared once per connection). A
 * key already held (and not expired) makes its receipt a `duplicate` that runs nothing, pointing at the
 * original; those rows come back with the original receipt so the request can answer with it.
 *
 * `inbound_dedup` is written here, not by a store of its own: it exists only to de-duplicate receipts, and
 * claiming the key in the same statement as the receipt is what makes the claim race-free. `task_runs` is
 * written here too, deliberately: this is the receiver's hot path, and the same work as two statements in a
 * transaction (TaskRunStore's insert after this one) measured 15% slower against the same baseline
 * (`npm run bench -- inbound`, same machine and hour: hub/baseline 0.63 with two statements, 0.81 with one). Its columns are TaskRunStore's
 * `INSERT_RUNS_SQL`'s; the receipt-writer and scenario tests check the runs a trigger starts.
 */
const BATCH_SQL = `
WITH x AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, r jsonb, d jsonb, t jsonb)
), won AS (
  INSERT INTO inbound_dedup (source_id, delivery_id, receipt_id, expires_at)
  SELECT (d->>'source_id')::uuid, d->>'delivery_id', (r->>'id')::uuid, now() + ((d->>'window_seconds')::int * interval '1 second')
  FROM x WHERE d IS NOT NULL
  ON CONFLICT (source_id, delivery_id) DO UPDATE SET receipt_id = EXCLUDED.receipt_id, expires_at = EXCLUDED.expires_at
    WHERE inbound_dedup.expires_at < now()
  RETURNING receipt_id
), lost AS (
  SELECT x.i, o.id AS receipt_id, o.task_ids, jsonb_array_length(o.matched_rules) > 0 AS matched, o.status_code
  FROM x
  LEFT JOIN inbound_dedup dd ON dd.source_id = (x.d->>'source_id')::uuid AND dd.delivery_id = x.d->>'delivery_id'
  LEFT JOIN receipts o ON o.id = dd.receipt_id
  WHERE x.d IS NOT NULL AND (x.r->>'id')::uuid NOT IN (SELECT receipt_id FROM won)
), receipts_in AS (
  INSERT INTO receipts (id, source_id, slug, delivery_id, method, ip, event, verdict, reason, status_code, headers, body, body_bytes,
    body_truncated, matched_rules, task_ids, duplicate_of, duration_ms)
  SELECT y.id, y.source_id, y.slug, y.delivery_id, y.method, y.ip, y.event,
    CASE WHEN l.i IS NULL THEN y.verdict ELSE 'duplicate' END,
    CASE WHEN l.i IS NULL THEN y.reason END,
    CASE WHEN l.i IS NULL THEN y.status_code ELSE 200 END,
    y.headers, y.body, y.body_bytes, y.body_truncated,
    CASE WHEN l.i IS NULL THEN y.matched_rules ELSE '[]'::jsonb END,
    CASE WHEN l.i IS NULL THEN y.task_ids ELSE '{}'::uuid[] END,
    CASE WHEN l.i IS NULL THEN y.duplicate_of ELSE l.receipt_id END,
    y.duration_ms
  FROM x CROSS JOIN LATERAL jsonb_to_record(x.r) AS y(${RECEIPT_RECORD}) LEFT JOIN lost l ON l.i = x.i
  RETURNING 1
), runs_in AS (
  INSERT INTO task_runs (id, program_id, program_name, trigger, receipt_id, source_id, rule_id, retry_of, triggered_by,
    attempt, max_attempts, argv, env, concurrency_key, run_at)
  SELECT t.id, t.program_id, t.program_name, t.trigger, t.receipt_id, t.source_id, t.rule_id, t.retry_of,
    t.triggered_by, t.attempt, t.max_attempts, t.argv, t.env, t.concurrency_key,
    now() + (coalesce(t.delay_seconds, 0) * interval '1 second')
  FROM x CROSS JOIN LATERAL jsonb_to_recordset(coalesce(x.t, '[]'::jsonb)) AS t(${RUN_RECORD})
  WHERE NOT EXISTS (SELECT 1 FROM lost l WHERE l.i = x.i)
  RETURNING 1
)
SELECT i, receipt_id, task_ids, matched, status_code FROM lost`;

/** `receipts` (and the `inbound_dedup` keys that de-duplicate them): the batch insert, lookups, lists and stats. */
@Injectable()
export class ReceiptStore {
  constructor(
    @InjectRepository(Receipt) private readonly receipts: Repository<Receipt>,
    private readonly db: Db,
  ) {}

  /**
   * Writes a batch of receipts, claims their de-duplication keys and stores the task runs of those that won,
   * in one prepared statement; returns the receipts that lost their key (stored as duplicates).
   */
  insertBatch(batch: readonly BatchReceipt[], manager?: EntityManager): Promise<LostReceipt[]> {
    const params = [JSON.stringify(batch)];
    return this.db.prepared<LostReceipt>('hookhub_receipt_batch', BATCH_SQL, params, manager);
  }

  /**
   * Points duplicate receipts at the originals now holding their keys (originals that were still being
   * committed when their batch ran); returns the originals found.
   */
  pointAtOriginals(raced: readonly RacedReceipt[]): Promise<Array<OriginalReceipt & { i: number }>> {
    return this.db.rows(
      `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, id uuid, source_id uuid, delivery_id text)),
       o AS (
         SELECT x.i, x.id, r.id AS receipt_id, r.task_ids, jsonb_array_length(r.matched_rules) > 0 AS matched, r.status_code
         FROM x JOIN inbound_dedup d ON d.source_id = x.source_id AND d.delivery_id = x.delivery_id
         JOIN receipts r ON r.id = d.receipt_id
       ), u AS (UPDATE receipts SET duplicate_of = o.receipt_id FROM o WHERE receipts.id = o.id)
       SELECT i, receipt_id, task_ids, matched, status_code FROM o`,
      [JSON.stringify(raced)],
    );
  }

  /** Records the final status of a sync answer. */
  async setStatusCode(id: string, status: number): Promise<void> {
    await this.db.exec(`UPDATE receipts SET status_code = $2 WHERE id = $1`, [id, status]);
  }

  findById(id: string): Promise<Receipt | null> {
    return this.receipts.findOneBy({ id });
  }

  /** Receipts since `from`, counted per hour and verdict (the console's overview). */
  hourlyVerdicts(from: Date): Promise<Array<{ hour: Date; verdict: string; count: number }>> {
    return this.db.rows(
      `SELECT date_trunc('hour', created_at) AS hour, verdict, count(*)::int AS count
       FROM receipts WHERE created_at >= $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [from],
    );
  }

  /** A page of receipts, newest first, filtered by source, verdict, event and time. */
  list<R>(query: ListReceiptsQueryDto, map: (receipt: Receipt) => R): Promise<Page<R>> {
    const qb = this.receipts.createQueryBuilder('r');
    if (query.source_id) qb.andWhere('r.source_id = :sourceId', { sourceId: query.source_id });
    if (query.verdict) qb.andWhere('r.verdict = :verdict', { verdict: query.verdict });
    if (query.event) qb.andWhere('r.event = :event', { event: query.event });
    if (query.status_code !== undefined) qb.andWhere('r.status_code = :status', { status: query.status_code });
    return paginate(createdBetween(qb, 'r', query), 'r', query, map);
  }

  /** A source's receipts in `[from, to)`, counted by hour, verdict and status code, oldest hour first. */
  countByHour(
    sourceId: string,
    from: Date,
    to: Date,
  ): Promise<Array<{ hour: Date; verdict: string; status_code: number; n: number }>> {
    return this.db.rows(
      `SELECT date_trunc('hour', created_at) AS hour, verdict, status_code, count(*)::int AS n
       FROM receipts WHERE source_id = $1 AND created_at >= $2 AND created_at < $3
       GROUP BY 1, 2, 3 ORDER BY 1`,
      [sourceId, from, to],
    );
  }
}
