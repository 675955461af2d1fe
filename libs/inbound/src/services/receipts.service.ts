import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock, HookhubError, type Page, isUuid } from '@hookhub/core';
import { type PreparedRun, TasksService } from '@hookhub/tasks';
import type { HookResponseDto } from '../dto/hooks.dto';
import { type ListReceiptsQueryDto, type ReceiptDetailDto, type ReceiptDto, toReceiptDto } from '../dto/receipts.dto';
import type { SourceStatsDto, SourceStatsQueryDto } from '../dto/sources.dto';
import type { MatchedRule, Receipt } from '../entities/receipt.entity';
import { parseBody } from '../http/body-parser';
import { routeByRules } from '../routing/route-by-rules';
import { buildContext } from '../routing/trigger-context';
import { ReceiptStore } from '../stores/receipt.store';
import { ReceiptWriter } from './receipt-writer';
import { SourceRegistry } from './source-registry';
import { SourcesService } from './sources.service';

/** Receipts: the record of every inbound request, its filters, per-source stats and replay. */
@Injectable()
export class ReceiptsService {
  constructor(
    private readonly receipts: ReceiptStore,
    private readonly sources: SourcesService,
    private readonly registry: SourceRegistry,
    private readonly tasks: TasksService,
    private readonly writer: ReceiptWriter,
    private readonly clock: Clock,
  ) {}

  async list(query: ListReceiptsQueryDto): Promise<Page<ReceiptDto>> {
    return this.receipts.list(query, toReceiptDto);
  }

  async get(id: string): Promise<ReceiptDetailDto> {
    const r = await this.find(id);
    return { ...toReceiptDto(r), headers: r.headers, body: r.body, body_truncated: r.bodyTruncated };
  }

  async stats(sourceId: string, query: SourceStatsQueryDto): Promise<SourceStatsDto> {
    await this.sources.find(sourceId);
    const to = query.to ? new Date(query.to) : this.clock.now();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - 86_400_000);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to)
      throw HookhubError.badRequest('from must be before to, both ISO 8601 times');
    if (to.getTime() - from.getTime() > 90 * 86_400_000)
      throw HookhubError.badRequest('The range may span at most 90 days');
    const rows = await this.receipts.countByHour(sourceId, from, to);
    const byVerdict: Record<string, number> = { accepted: 0, unmatched: 0, duplicate: 0, rejected: 0 };
    const byStatus: Record<string, number> = {};
    const hours = new Map<string, { by_verdict: Record<string, number>; total: number }>();
    let total = 0;
    for (const row of rows) {
      total += row.n;
      byVerdict[row.verdict] = (byVerdict[row.verdict] ?? 0) + row.n;
      byStatus[String(row.status_code)] = (byStatus[String(row.status_code)] ?? 0) + row.n;
      const key = new Date(row.hour).toISOString();
      const bucket = hours.get(key) ?? { by_verdict: {}, total: 0 };
      bucket.by_verdict[row.verdict] = (bucket.by_verdict[row.verdict] ?? 0) + row.n;
      bucket.total += row.n;
      hours.set(key, bucket);
    }
    return {
      source_id: sourceId,
      from: from.toISOString(),
      to: to.toISOString(),
      total,
      by_verdict: byVerdict,
      by_status: byStatus,
      by_hour: [...hours.entries()].map(([hour, b]) => ({ hour, ...b })),
    };
  }

  /**
   * Runs a stored, verified receipt through the source's current rules again, as a new receipt
   * (verdict accepted or unmatched, reason `replay of <id>`). The body must have been stored whole.
   */
  async replay(id: string, by: string): Promise<HookResponseDto> {
    const original = await this.find(id);
    if (!original.sourceId) throw HookhubError.conflict('The source of this receipt was deleted');
    if (original.verdict === 'rejected')
      throw HookhubError.conflict('Only verified receipts can be replayed; this one was rejected');
    if (original.bodyTruncated || original.body === null)
      throw HookhubError.conflict('The body of this receipt was not stored whole, so it cannot be replayed');
    const compiled = await this.registry.compile(await this.sources.find(original.sourceId));
    let body: unknown;
    try {
      body = parseBody(Buffer.from(original.body), original.headers['content-type']);
    } catch (err) {
      throw HookhubError.conflict(`The stored body does not parse: ${(err as Error).message}`);
    }
    const ctx = buildContext(compiled, body, original.headers, {});
    const receiptId = randomUUID();
    let routed: { runs: PreparedRun[]; matched: MatchedRule[] };
    try {
      routed = routeByRules(compiled, ctx, this.tasks, {
        trigger: 'receipt',
        receiptId,
        sourceId: original.sourceId,
        triggeredBy: by,
      });
    } catch (err) {
      throw HookhubError.badRequest(`The replay matched but the run was refused: ${(err as Error).message}`);
    }
    const { runs, matched } = routed;
    await this.writer.write({
      receipt: {
        id: receiptId,
        source_id: original.sourceId,
        slug: original.slug,
        delivery_id: original.deliveryId,
        method: original.method,
        ip: original.ip,
        event: ctx.event,
        verdict: runs.length ? 'accepted' : 'unmatched',
        reason: `replay of ${original.id} by ${by}`,
        status_code: 202,
        headers: original.headers,
        body: original.body,
        body_bytes: original.bodyBytes,
        body_truncated: false,
        matched_rules: matched,
        task_ids: runs.map((r) => r.id),
        duplicate_of: null,
        duration_ms: 0,
      },
      runs,
    });
    return {
      message: runs.length
        ? `Replayed: triggered ${runs.length} task${runs.length === 1 ? '' : 's'}`
        : 'Replayed: no rule matched',
      receipt_id: receiptId,
      matched: runs.length > 0,
      task_ids: runs.map((r) => r.id),
      tasks: runs.map((r) => ({ id: r.id, program: r.program_name })),
    };
  }

  private async find(id: string): Promise<Receipt> {
    const r = isUuid(id) ? await this.receipts.findById(id) : null;
    if (!r) throw HookhubError.notFound('Receipt', id);
    return r;
  }
}
