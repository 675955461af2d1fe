import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { type PreparedRun, TasksService } from '@hookhub/tasks';
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
  /** De-duplicate on this delivery id within the window. */
  dedup?: { sourceId: string; deliveryId: string; windowSeconds: number };
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

interface Pending {
  item: ReceiptWrite;
  resolve: (outcome: WriteOutcome) => void;
  reject: (err: unknown) => void;
}

const MAX_BATCH = 500;
const RECEIPT_COLUMNS = `id uuid, source_id uuid, slug text, delivery_id text, method text, ip text, event text, verdict text, reason text,
  status_code int, headers jsonb, body text, body_bytes int, body_truncated boolean, matched_rules jsonb, task_ids uuid[],
  duplicate_of uuid, duration_ms real`;

/**
 * Group commit for the receiver. Concurrent requests hand their receipt and task runs here; they are
 * written together in one transaction (de-duplication, receipts, runs), and each request is answered
 * only after the transaction holding its rows committed. While one batch commits, the next fills up,
 * so a busy receiver pays one commit per batch instead of one per request.
 */
@Injectable()
export class ReceiptWriter {
  private readonly logger = new Logger('ReceiptWriter');
  private queue: Pending[] = [];
  private flushing = 0;
  private readonly maxFlushes: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tasks: TasksService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.maxFlushes = config.database.url ? Math.max(1, Math.min(4, Math.floor(config.database.poolSize / 2))) : 1;
  }

  write(item: ReceiptWrite): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** Records the final status of a sync answer. */
  async updateStatus(receiptId: string, status: number): Promise<void> {
    await this.dataSource.query(`UPDATE receipts SET status_code = $2 WHERE id = $1`, [receiptId, status]);
  }

  private kick(): void {
    while (this.flushing < this.maxFlushes && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.flushing++;
      void this.flush(batch).finally(() => {
        this.flushing--;
        this.kick();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    try {
      const outcomes = await this.dataSource.transaction((m) => this.writeBatch(m, batch.map((p) => p.item)));
      batch.forEach((p, i) => p.resolve(outcomes[i]));
      if (batch.some((p, i) => !outcomes[i].duplicateOf && p.item.runs.length > 0)) await this.tasks.wake();
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err);
        return;
      }
      // One bad row must not fail its neighbours: write them one by one.
      this.logger.warn(`a batch of ${batch.length} receipts failed (${(err as Error).message}); writing them one by one`);
      for (const p of batch) await this.flush([p]);
    }
  }

  private async writeBatch(m: EntityManager, items: ReceiptWrite[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = items.map(() => ({}));
    const keyed = items.map((item, i) => ({ item, i })).filter(({ item }) => item.dedup);
    if (keyed.length) {
      // Inside the batch, the first occurrence wins.
      const firstByKey = new Map<string, number>();
      const candidates: Array<{ item: ReceiptWrite; i: number }> = [];
      for (const entry of keyed) {
        const key = `${entry.item.dedup!.sourceId}\u0000${entry.item.dedup!.deliveryId}`;
        const first = firstByKey.get(key);
        if (first === undefined) {
          firstByKey.set(key, entry.i);
          candidates.push(entry);
        } else {
          const original = items[first].receipt;
          outcomes[entry.i].duplicateOf = { receipt_id: original.id, task_ids: original.task_ids, matched: original.matched_rules.length > 0, status_code: original.status_code };
        }
      }
      const won = (await m.query(
        `INSERT INTO inbound_dedup (source_id, delivery_id, receipt_id, expires_at)
         SELECT source_id, delivery_id, receipt_id, now() + (window_seconds * interval '1 second')
         FROM jsonb_to_recordset($1::jsonb) AS x(source_id uuid, delivery_id text, receipt_id uuid, window_seconds int)
         ON CONFLICT (source_id, delivery_id) DO UPDATE SET receipt_id = EXCLUDED.receipt_id, expires_at = EXCLUDED.expires_at
           WHERE inbound_dedup.expires_at < now()
         RETURNING receipt_id`,
        [JSON.stringify(candidates.map(({ item }) => ({ source_id: item.dedup!.sourceId, delivery_id: item.dedup!.deliveryId, receipt_id: item.receipt.id, window_seconds: item.dedup!.windowSeconds })))],
      )) as Array<{ receipt_id: string }>;
      const winners = new Set(won.map((r) => r.receipt_id));
      const losers = candidates.filter(({ item }) => !winners.has(item.receipt.id));
      if (losers.length) {
        const originals = (await m.query(
          `SELECT x.i, r.id AS receipt_id, r.task_ids, jsonb_array_length(r.matched_rules) > 0 AS matched, r.status_code
           FROM jsonb_to_recordset($1::jsonb) AS x(i int, source_id uuid, delivery_id text)
           JOIN inbound_dedup d ON d.source_id = x.source_id AND d.delivery_id = x.delivery_id
           JOIN receipts r ON r.id = d.receipt_id`,
          [JSON.stringify(losers.map(({ item, i }) => ({ i, source_id: item.dedup!.sourceId, delivery_id: item.dedup!.deliveryId })))],
        )) as Array<OriginalReceipt & { i: number }>;
        for (const o of originals) outcomes[o.i].duplicateOf = { receipt_id: o.receipt_id, task_ids: o.task_ids, matched: o.matched, status_code: o.status_code };
      }
    }
    const receipts: ReceiptRow[] = [];
    const runs: PreparedRun[] = [];
    items.forEach((item, i) => {
      const dup = outcomes[i].duplicateOf;
      if (dup) {
        receipts.push({ ...item.receipt, verdict: 'duplicate', status_code: 200, reason: null, matched_rules: [], task_ids: [], duplicate_of: dup.receipt_id });
      } else {
        receipts.push(item.receipt);
        runs.push(...item.runs);
      }
    });
    await m.query(
      `INSERT INTO receipts (id, source_id, slug, delivery_id, method, ip, event, verdict, reason, status_code, headers, body, body_bytes,
         body_truncated, matched_rules, task_ids, duplicate_of, duration_ms)
       SELECT id, source_id, slug, delivery_id, method, ip, event, verdict, reason, status_code, headers, body, body_bytes,
         body_truncated, matched_rules, task_ids, duplicate_of, duration_ms
       FROM jsonb_to_recordset($1::jsonb) AS x(${RECEIPT_COLUMNS})`,
      [JSON.stringify(receipts)],
    );
    await this.tasks.insert(m, runs);
    return outcomes;
  }
}
