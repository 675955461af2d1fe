import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { EventsService, HUB_PUBLISHER } from '@hookhub/outbound';

const WINDOW_MS = 60_000;

interface Window {
  /** Refusal times within the window, oldest first. */
  times: number[];
  notifiedAt: number;
  lastStatus: number;
  lastReason: string;
}

/**
 * Publishes `source.rejected_burst` when one source refuses HOOKHUB_REJECTED_BURST_THRESHOLD requests within a
 * minute (bad signatures, blocked addresses, rate limits...), at most once a minute per source, so a
 * misconfigured sender or an attack reaches a chat webhook instead of only the receipts. Counted per process.
 */
@Injectable()
export class RejectionBurstDetector {
  private readonly logger = new Logger('RejectionBurst');
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly events: EventsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Counts a refusal; returns true when it completed a burst (and the event is being published). */
  record(source: { id: string; slug: string }, status: number, reason: string): boolean {
    const t = Date.now();
    const threshold = this.config.inbound.rejectedBurstThreshold;
    const w = this.windows.get(source.id) ?? { times: [], notifiedAt: 0, lastStatus: status, lastReason: reason };
    w.times.push(t);
    while (w.times.length && t - w.times[0] >= WINDOW_MS) w.times.shift();
    if (w.times.length > threshold) w.times.splice(0, w.times.length - threshold);
    w.lastStatus = status;
    w.lastReason = reason;
    if (this.windows.size > 10_000 && !this.windows.has(source.id)) this.windows.clear();
    this.windows.set(source.id, w);
    if (w.times.length < threshold || t - w.notifiedAt < WINDOW_MS) return false;
    w.notifiedAt = t;
    const data = {
      source_id: source.id,
      slug: source.slug,
      rejected: w.times.length,
      window_seconds: WINDOW_MS / 1000,
      first_at: new Date(w.times[0]).toISOString(),
      last_at: new Date(t).toISOString(),
      last_status: status,
      last_reason: reason,
    };
    void this.events
      .publishNow({ type: 'source.rejected_burst', data, publishedBy: HUB_PUBLISHER })
      .catch((err: unknown) => this.logger.error(`could not publish source.rejected_burst for ${source.slug}: ${(err as Error).message}`));
    return true;
  }
}
