import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { GroupCommit, queryPrepared } from '@hookhub/store';
import { type PreparedRun, TasksService, insertRunsSql, runsFrom } from '@hookhub/tasks';
import type { MatchedRule, Verdict } from '../entities/receipt.entity';

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

export interface ReceiptWrite {
  receipt: ReceiptRow;
  runs: PreparedRun[];
  /** De-duplicate on this key (a delivery id, a body digest or a replay key) within the window. */
  dedup?: { sourceId: string; key: string; windowSeconds: number } | null;
}

/** The earlier receipt a duplicate delivery points to. */
export interface OriginalReceipt {
  receipt_id: string;
  task_ids: string[];
  matched: boolean;
  status_code: number;
}

export interface WriteOutcome {
  duplicateOf?: OriginalReceipt;
}

const MAX_BATCH = 500;
const RECEIPT_RECORD = `id uuid, source_id uuid, slug text, delivery_id text, method text, ip text, event text, verdict text, reason text,
  status_code int, headers jsonb, body text, body_bytes int, body_truncated boolean, matched_rules jsonb, task_ids uuid[],
  duplicate_of uuid, duration_ms real`;

/**
 * One statement writes a whole batch (so one round trip, atomic without BEGIN/COMMIT, and prepared once
 * per connection): the de-duplication rows, every receipt and the task runs of the receipts that won.
 * A delivery id already held (and not expired) makes its receipt a `duplicate` pointing at the original,
 * with no runs; those rows come back with the original receipt so the request can answer with it.
 */
const BATCH_SQL = `
WITH x AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, r jsonb, runs jsonb, d jsonb)
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
  ${insertRunsSql(`x CROSS JOIN LATERAL ${runsFrom('x.runs', 't')}`, 't', 'WHERE NOT EXISTS (SELECT 1 FROM lost l WHERE l.i = x.i)')}
  RETURNING 1
)
SELECT i, receipt_id, task_ids, matched, status_code FROM lost`;

/**
 * Group commit for the receiver. Concurrent requests hand their receipt and task runs here; they are
 * written together by one statement (de-duplication, receipts, runs), and each request is answered only
 * after the statement holding its rows committed. While one batch commits, the next fills up, so a busy
 * receiver pays one commit (and one round trip) per batch instead of several per request.
 */
@Injectable()
export class ReceiptWriter {
  private readonly logger = new Logger('ReceiptWriter');
  private readonly batches: GroupCommit<ReceiptWrite, WriteOutcome>;
  private readonly embedded: boolean;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tasks: TasksService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.embedded = !config.database.url;
    this.batches = new GroupCommit((items) => this.writeBatch(items), {
      maxBatch: MAX_BATCH,
      maxFlushes: this.embedded ? 1 : Math.max(1, Math.min(4, Math.floor(config.database.poolSize / 2))),
      // One bad row must not fail its neighbours: they are written one by one.
      onSplit: (size, err) => this.logger.warn(`a batch of ${size} receipts failed (${(err as Error).message}); writing them one by one`),
    });
  }

  write(item: ReceiptWrite): Promise<WriteOutcome> {
    return this.batches.write(item);
  }

  /** Records the final status of a sync answer. */
  async updateStatus(receiptId: string, status: number): Promise<void> {
    await this.dataSource.query(`UPDATE receipts SET status_code = $2 WHERE id = $1`, [receiptId, status]);
  }

  private async writeBatch(items: ReceiptWrite[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = items.map(() => ({}));
    // Inside the batch, the first occurrence of a delivery id wins; the others are duplicates of it.
    const firstByKey = new Map<string, number>();
    const copies: Array<[copy: number, first: number]> = [];
    const rows = items.map((item, i) => {
      if (!item.dedup) return { i, r: item.receipt, runs: item.runs, d: null };
      const key = `${item.dedup.sourceId}\u0000${item.dedup.key}`;
      const first = firstByKey.get(key);
      if (first === undefined) {
        firstByKey.set(key, i);
        return { i, r: item.receipt, runs: item.runs, d: { source_id: item.dedup.sourceId, delivery_id: item.dedup.key, window_seconds: item.dedup.windowSeconds } };
      }
      copies.push([i, first]);
      const original = items[first].receipt;
      outcomes[i].duplicateOf = { receipt_id: original.id, task_ids: original.task_ids, matched: original.matched_rules.length > 0, status_code: original.status_code };
      return { i, r: { ...item.receipt, verdict: 'duplicate', status_code: 200, reason: null, matched_rules: [], task_ids: [], duplicate_of: original.id }, runs: [], d: null };
    });
    const lost = await queryPrepared<OriginalReceipt & { i: number; receipt_id: string | null }>(this.dataSource, this.embedded, 'hookhub_receipt_batch', BATCH_SQL, [
      JSON.stringify(rows),
    ]);
    const raced: number[] = [];
    for (const o of lost) {
      if (o.receipt_id) outcomes[o.i].duplicateOf = { receipt_id: o.receipt_id, task_ids: o.task_ids, matched: o.matched, status_code: o.status_code };
      else raced.push(o.i);
    }
    if (raced.length) await this.resolveRaced(items, raced, outcomes);
    // A copy inside the batch whose first occurrence was itself a duplicate answers with that original.
    for (const [copy, first] of copies) if (outcomes[first].duplicateOf) outcomes[copy].duplicateOf = outcomes[first].duplicateOf;
    if (items.some((item, i) => !outcomes[i].duplicateOf && item.runs.length > 0)) {
      // Wake-ups sent while another is on its way are coalesced by the notifier.
      this.tasks.wake().catch((err: unknown) => this.logger.warn(`could not wake the task workers (they poll): ${(err as Error).message}`));
    }
    return outcomes;
  }

  /**
   * A delivery id taken by a request that was still being committed when this batch started: the batch
   * could not see the original yet. It is committed now; point the duplicate receipts at it.
   */
  private async resolveRaced(items: ReceiptWrite[], raced: number[], outcomes: WriteOutcome[]): Promise<void> {
    const originals = (await this.dataSource.query(
      `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, id uuid, source_id uuid, delivery_id text)),
       o AS (
         SELECT x.i, x.id, r.id AS receipt_id, r.task_ids, jsonb_array_length(r.matched_rules) > 0 AS matched, r.status_code
         FROM x JOIN inbound_dedup d ON d.source_id = x.source_id AND d.delivery_id = x.delivery_id
         JOIN receipts r ON r.id = d.receipt_id
       ), u AS (UPDATE receipts SET duplicate_of = o.receipt_id FROM o WHERE receipts.id = o.id)
       SELECT i, receipt_id, task_ids, matched, status_code FROM o`,
      [JSON.stringify(raced.map((i) => ({ i, id: items[i].receipt.id, source_id: items[i].dedup!.sourceId, delivery_id: items[i].dedup!.key })))],
    )) as Array<OriginalReceipt & { i: number }>;
    for (const o of originals) outcomes[o.i].duplicateOf = { receipt_id: o.receipt_id, task_ids: o.task_ids, matched: o.matched, status_code: o.status_code };
    for (const i of raced) outcomes[i].duplicateOf ??= { receipt_id: '', task_ids: [], matched: false, status_code: 200 };
  }
}
