import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, MetricsService } from '@hookhub/core';
import { Db, GroupCommit } from '@hookhub/store';
import { type PreparedRun, TasksService } from '@hookhub/tasks';
import { type BatchReceipt, type OriginalReceipt, ReceiptStore, type ReceiptRow } from '../stores/receipt.store';

export type { OriginalReceipt, ReceiptRow } from '../stores/receipt.store';

export interface ReceiptWrite {
  receipt: ReceiptRow;
  runs: PreparedRun[];
  /** De-duplicate on this key (a delivery id, a body digest or a replay key) within the window. */
  dedup?: { sourceId: string; key: string; windowSeconds: number } | null;
}

export interface WriteOutcome {
  duplicateOf?: OriginalReceipt;
}

const MAX_BATCH = 500;

/**
 * Group commit for the receiver. Concurrent requests hand their receipt and task runs here; they are
 * written together (one statement for the de-duplication keys and receipts, then one for the task runs of the
 * receipts that won their key, in one transaction), and each request is answered only after the transaction
 * holding its rows committed. While one batch commits, the next fills up, so a busy receiver pays one commit
 * per batch instead of several per request. A batch with no runs (refusals, unmatched) is one statement.
 */
@Injectable()
export class ReceiptWriter {
  private readonly logger = new Logger('ReceiptWriter');
  private readonly batches: GroupCommit<ReceiptWrite, WriteOutcome>;

  constructor(
    private readonly db: Db,
    private readonly receipts: ReceiptStore,
    private readonly tasks: TasksService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.batches = new GroupCommit((items) => this.writeBatch(items), {
      maxBatch: MAX_BATCH,
      maxFlushes: db.embedded ? 1 : Math.max(1, Math.min(4, Math.floor(config.database.poolSize / 2))),
      // One bad row must not fail its neighbours: they are written one by one.
      onSplit: (size, err) =>
        this.logger.warn(`a batch of ${size} receipts failed (${(err as Error).message}); writing them one by one`),
    });
  }

  /** Resolves once the receipt committed; it is then counted in /metrics by source slug and verdict. */
  async write(item: ReceiptWrite): Promise<WriteOutcome> {
    const outcome = await this.batches.write(item);
    // The slug of a known source (bounded by the sources); never the raw path of an unknown one.
    this.metrics.receipts.inc({
      source: item.receipt.source_id ? item.receipt.slug : 'unknown',
      verdict: outcome.duplicateOf ? 'duplicate' : item.receipt.verdict,
    });
    return outcome;
  }

  /** Records the final status of a sync answer. */
  async updateStatus(receiptId: string, status: number): Promise<void> {
    await this.receipts.setStatusCode(receiptId, status);
  }

  private async writeBatch(items: ReceiptWrite[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = items.map(() => ({}));
    // Inside the batch, the first occurrence of a delivery id wins; the others are duplicates of it.
    const firstByKey = new Map<string, number>();
    const copies: Array<[copy: number, first: number]> = [];
    // The runs of each receipt, none for a copy.
    const batch = items.map((item, i): BatchReceipt => {
      if (!item.dedup) return { i, r: item.receipt, d: null, t: item.runs };
      const key = `${item.dedup.sourceId}\u0000${item.dedup.key}`;
      const first = firstByKey.get(key);
      if (first === undefined) {
        firstByKey.set(key, i);
        return {
          i,
          r: item.receipt,
          d: { source_id: item.dedup.sourceId, delivery_id: item.dedup.key, window_seconds: item.dedup.windowSeconds },
          t: item.runs,
        };
      }
      copies.push([i, first]);
      const original = items[first].receipt;
      outcomes[i].duplicateOf = {
        receipt_id: original.id,
        task_ids: original.task_ids,
        matched: original.matched_rules.length > 0,
        status_code: original.status_code,
      };
      return {
        i,
        r: {
          ...item.receipt,
          verdict: 'duplicate',
          status_code: 200,
          reason: null,
          matched_rules: [],
          task_ids: [],
          duplicate_of: original.id,
        },
        d: null,
        t: [],
      };
    });
    const lost = await this.receipts.insertBatch(batch);
    const raced: number[] = [];
    for (const o of lost) {
      if (o.receipt_id)
        outcomes[o.i].duplicateOf = {
          receipt_id: o.receipt_id,
          task_ids: o.task_ids,
          matched: o.matched,
          status_code: o.status_code,
        };
      else raced.push(o.i);
    }
    if (raced.length) await this.resolveRaced(items, raced, outcomes);
    // A copy inside the batch whose first occurrence was itself a duplicate answers with that original.
    for (const [copy, first] of copies)
      if (outcomes[first].duplicateOf) outcomes[copy].duplicateOf = outcomes[first].duplicateOf;
    if (items.some((item, i) => !outcomes[i].duplicateOf && item.runs.length > 0)) {
      // Wake-ups sent while another is on its way are coalesced by the notifier.
      this.tasks
        .wake()
        .catch((err: unknown) =>
          this.logger.warn(`could not wake the task workers (they poll): ${(err as Error).message}`),
        );
    }
    return outcomes;
  }

  /**
   * A delivery id taken by a request that was still being committed when this batch started: the batch
   * could not see the original yet. It is committed now; point the duplicate receipts at it.
   */
  private async resolveRaced(items: ReceiptWrite[], raced: number[], outcomes: WriteOutcome[]): Promise<void> {
    const originals = await this.receipts.pointAtOriginals(
      raced.map((i) => ({
        i,
        id: items[i].receipt.id,
        source_id: items[i].dedup!.sourceId,
        delivery_id: items[i].dedup!.key,
      })),
    );
    for (const o of originals)
      outcomes[o.i].duplicateOf = {
        receipt_id: o.receipt_id,
        task_ids: o.task_ids,
        matched: o.matched,
        status_code: o.status_code,
      };
    for (const i of raced)
      outcomes[i].duplicateOf ??= { receipt_id: '', task_ids: [], matched: false, status_code: 200 };
  }
}
