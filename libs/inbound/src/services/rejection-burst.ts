import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, SHARED_COUNTER, type SharedCounter } from '@hookhub/core';
import { EventsService, HUB_PUBLISHER } from '@hookhub/outbound';

const WINDOW_MS = 60_000;

/**
 * Publishes `source.rejected_burst` when one source refuses HOOKHUB_REJECTED_BURST_THRESHOLD requests within a
 * minute (bad signatures, blocked addresses, rate limits...), at most once a minute per source, so a
 * misconfigured sender or an attack reaches a chat webhook instead of only the receipts.
 *
 * Counted over every API process in the shared counter (Redis, else Postgres): refusals are the hits of a
 * minute-long sliding window holding at most the threshold, and the process whose refusal fills it takes the
 * source's one notice slot of the minute (a second counter with a limit of one). So of all the processes
 * whose refusals make up a burst, exactly one publishes, once a minute at most.
 */
@Injectable()
export class RejectionBurstDetector {
  private readonly logger = new Logger('RejectionBurst');

  constructor(
    private readonly events: EventsService,
    @Inject(SHARED_COUNTER) private readonly counter: SharedCounter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Counts a refusal in the background: the refusal's answer never waits for the count (nor fails with it;
   * while the shared store is down the counter counts in this process). See {@link detect}.
   */
  record(source: { id: string; slug: string }, status: number, reason: string): void {
    this.detect(source, status, reason).catch((err: unknown) =>
      this.logger.error(`source.rejected_burst for ${source.slug}: ${(err as Error).message}`),
    );
  }

  /** Counts a refusal; resolves true when it completed a burst and this process published the notice. */
  async detect(source: { id: string; slug: string }, status: number, reason: string): Promise<boolean> {
    const threshold = this.config.inbound.rejectedBurstThreshold;
    const refusals = await this.counter.hit(`refusals:${source.id}`, WINDOW_MS, threshold);
    // Only the refusal that filled the window may publish; later ones are not counted until a refusal leaves it.
    if (!refusals.allowed || refusals.count < threshold) return false;
    const notice = await this.counter.hit(`refusal-notice:${source.id}`, WINDOW_MS, 1);
    if (!notice.allowed) return false;
    const data = {
      source_id: source.id,
      slug: source.slug,
      rejected: refusals.count,
      window_seconds: WINDOW_MS / 1000,
      first_at: new Date(refusals.oldestMs).toISOString(),
      last_at: new Date(notice.oldestMs).toISOString(),
      last_status: status,
      last_reason: reason,
    };
    await this.events.publishNow({ type: 'source.rejected_burst', data, publishedBy: HUB_PUBLISHER });
    return true;
  }
}
