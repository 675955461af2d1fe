import { Injectable } from '@nestjs/common';
import { Clock } from '@hookhub/core';
import { ReceiptStore } from '@hookhub/inbound';
import { DeliveryAttemptStore, DeliveryStore, WebhookStore } from '@hookhub/outbound';
import { TaskRunStore, WorkersService } from '@hookhub/tasks';
import type { OverviewDto } from './overview.dto';

const HOUR_MS = 3_600_000;
const FAILING_SHOWN = 20;

/** The console's overview page in one call: each part is one aggregate over an indexed time range. */
@Injectable()
export class OverviewService {
  constructor(
    private readonly receipts: ReceiptStore,
    private readonly runs: TaskRunStore,
    private readonly attempts: DeliveryAttemptStore,
    private readonly deliveries: DeliveryStore,
    private readonly webhooks: WebhookStore,
    private readonly workers: WorkersService,
    private readonly clock: Clock,
  ) {}

  async overview(hours: number): Promise<OverviewDto> {
    const now = this.clock.now();
    // Whole hours, so every bar of the charts covers a full hour (the current one so far).
    const from = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - (hours - 1) * HOUR_MS);
    const [receipts, runs, hourly, totals, failing, queues, depth, workers] = await Promise.all([
      this.receipts.hourlyVerdicts(from),
      this.runs.statusCounts(from),
      this.attempts.outcomesPer('hour', from, now),
      this.attempts.countsOf(undefined, from, now),
      this.webhooks.failingNow(FAILING_SHOWN),
      this.runs.queuedPerQueue([]),
      this.deliveries.backlog(),
      this.workers.list(),
    ]);
    const rounded = (v: number | null) => (v === null ? null : Math.round(Number(v) * 10) / 10);
    return {
      from: from.toISOString(),
      to: now.toISOString(),
      hours,
      receipts: receipts.map((r) => ({ hour: new Date(r.hour).toISOString(), verdict: r.verdict, count: r.count })),
      task_runs: runs,
      deliveries: hourly.map((h) => ({
        hour: new Date(h.start).toISOString(),
        attempts: h.total,
        succeeded: h.succeeded,
      })),
      delivery_totals: {
        attempts: totals.total,
        succeeded: totals.succeeded,
        success_rate: totals.total ? totals.succeeded / totals.total : null,
        p50_ms: rounded(totals.p50),
        p95_ms: rounded(totals.p95),
      },
      failing_webhooks: failing.webhooks.map((w) => ({
        id: w.id,
        name: w.name,
        url: w.url,
        failing_since: w.failingSince!.toISOString(),
        last_error: w.lastError,
        last_error_at: w.lastErrorAt?.toISOString() ?? null,
      })),
      failing_webhooks_total: failing.total,
      task_queues: queues,
      deliveries_queued: depth.queued,
      deliveries_due: depth.due,
      deliveries_oldest_due_age_seconds: depth.oldestDueAgeSeconds,
      live_workers: workers.workers.filter((w) => w.live).length,
    };
  }
}
