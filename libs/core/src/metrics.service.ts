import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A store reading computed on scrape is reused for this long, so a scrape storm does not hammer the store. */
const SCRAPE_CACHE_MS = 5000;

/** The work queues whose depth is reported (`queue` label). */
export type MetricsQueue = 'tasks' | 'deliveries';

/** A queue's backlog as its store counts it: queued rows due now, and how long the oldest has been due. */
export interface QueueDepth {
  depth: number;
  oldestDueAgeSeconds: number;
}

/** The status class of a delivery attempt: the HTTP status's hundreds, or `none` without an answer. */
export function statusClass(status: number | null | undefined): string {
  if (status == null || status < 100 || status >= 600) return 'none';
  return `${Math.floor(status / 100)}xx`;
}

/**
 * A reading taken at most every {@link SCRAPE_CACHE_MS}; while the store is down it keeps its last value
 * (undefined before the first success), so a scrape still answers.
 */
class CachedReading<T> {
  private value: T | undefined;
  private at = -Infinity;
  private pending: Promise<T | undefined> | null = null;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T | undefined> {
    if (performance.now() - this.at < SCRAPE_CACHE_MS) return Promise.resolve(this.value);
    this.pending ??= this.read()
      .then(
        (value) => {
          this.value = value;
          return value;
        },
        () => this.value,
      )
      .finally(() => {
        this.at = performance.now();
        this.pending = null;
      });
    return this.pending;
  }
}

/**
 * The Prometheus registry of this process: default process metrics plus Hookhub's own. Label sets are
 * bounded (no ids): the libs record counters through the fields here and register the readings of the
 * scrape-time gauges (core imports no other lib).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Task runs by program name and final status. */
  readonly taskRuns: Counter<'program' | 'outcome'>;
  readonly taskRunDuration: Histogram<'program' | 'outcome'>;
  /** Delivery attempts by outcome (succeeded, retrying, failed, lost) and status class. */
  readonly deliveryAttempts: Counter<'outcome' | 'status_class'>;
  /** From an event's publish to its successful delivery. */
  readonly deliveryLatency: Histogram;
  /** Receipts by source slug (`unknown` without a source) and verdict. */
  readonly receipts: Counter<'source' | 'verdict'>;
  private readonly queues = new Map<MetricsQueue, CachedReading<QueueDepth>>();
  private failing: CachedReading<number> | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hookhub_' });
    const registers = [this.registry];
    this.httpDuration = new Histogram({
      name: 'hookhub_http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.taskRuns = new Counter({
      name: 'hookhub_task_runs_total',
      help: 'Task runs finished by this process, by program name and outcome (final status)',
      labelNames: ['program', 'outcome'],
      registers,
    });
    this.taskRunDuration = new Histogram({
      name: 'hookhub_task_run_duration_seconds',
      help: 'Duration of the task runs finished by this process, by program name and outcome',
      labelNames: ['program', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.deliveryAttempts = new Counter({
      name: 'hookhub_delivery_attempts_total',
      help: 'Delivery attempts made by this process, by outcome and HTTP status class (none: no answer)',
      labelNames: ['outcome', 'status_class'],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'hookhub_delivery_latency_seconds',
      help: "From an event's publish to its successful delivery (deliveries made by this process)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.receipts = new Counter({
      name: 'hookhub_receipts_total',
      help: 'Receipts written by this process, by source slug (unknown: no such source) and verdict',
      labelNames: ['source', 'verdict'],
      registers,
    });
    const queues = this.queues;
    new Gauge({
      name: 'hookhub_queue_depth',
      help: 'Queued rows due now, by queue (read from the store, cached 5 s)',
      labelNames: ['queue'],
      registers,
      async collect() {
        for (const [queue, reading] of queues) {
          const value = await reading.get();
          if (value) this.set({ queue }, value.depth);
        }
      },
    });
    new Gauge({
      name: 'hookhub_queue_oldest_due_age_seconds',
      help: 'How long the oldest queued row due now has been due, by queue; 0 when none (cached 5 s)',
      labelNames: ['queue'],
      registers,
      async collect() {
        for (const [queue, reading] of queues) {
          const value = await reading.get();
          if (value) this.set({ queue }, value.oldestDueAgeSeconds);
        }
      },
    });
    const failing = (): CachedReading<number> | null => this.failing;
    new Gauge({
      name: 'hookhub_webhooks_failing',
      help: 'Enabled webhooks whose attempts have all failed since some time (failing_since set; cached 5 s)',
      registers,
      async collect() {
        const value = await failing()?.get();
        if (value !== undefined) this.set(value);
      },
    });
  }

  /** Reports a queue's depth on scrape: `read` counts it in the store (called at most every 5 s). */
  registerQueue(queue: MetricsQueue, read: () => Promise<QueueDepth>): void {
    this.queues.set(queue, new CachedReading(read));
  }

  /** Reports the number of failing webhooks on scrape: `read` counts them in the store (at most every 5 s). */
  registerWebhooksFailing(read: () => Promise<number>): void {
    this.failing = new CachedReading(read);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
