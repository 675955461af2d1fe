import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class OverviewQueryDto {
  /** The window: the last `hours` hours, counted in whole hours (1 to 168). @example 24 */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(168)
  hours?: number;
}

/** Triggers received in one hour with one verdict. */
export class ReceiptHourDto {
  /** The hour's start. @example "2026-12-01T09:00:00.000Z" */
  hour!: string;
  /** @example "accepted" */
  verdict!: string;
  /** @example 1240 */
  count!: number;
}

/** Task runs created in the window with one status. */
export class TaskStatusCountDto {
  /** @example "succeeded" */
  status!: string;
  /** @example 312 */
  count!: number;
}

/** Delivery attempts made in one hour. */
export class DeliveryHourDto {
  /** The hour's start. @example "2026-12-01T09:00:00.000Z" */
  hour!: string;
  /** @example 5000 */
  attempts!: number;
  /** @example 4975 */
  succeeded!: number;
}

/** The window's delivery attempts: how many, how many succeeded, and how long they took. */
export class DeliveryTotalsDto {
  /** @example 120000 */
  attempts!: number;
  /** @example 119400 */
  succeeded!: number;
  /** Succeeded / attempts; null without attempts. @example 0.995 */
  @ApiPropertyOptional({ type: Number, nullable: true, example: 0.995 })
  success_rate!: number | null;
  /** Median attempt duration (request to answer), ms; null without attempts. @example 42 */
  @ApiPropertyOptional({ type: Number, nullable: true, example: 42 })
  p50_ms!: number | null;
  /** 95th percentile attempt duration, ms; null without attempts. @example 180 */
  @ApiPropertyOptional({ type: Number, nullable: true, example: 180 })
  p95_ms!: number | null;
}

/** An enabled webhook whose every attempt has failed since `failing_since`. */
export class FailingWebhookDto {
  /** @example "0b9f5a2e-8f7c-4c38-9d55-3a1c2b7e4f10" */
  id!: string;
  /** @example "billing" */
  name!: string;
  /** @example "https://billing.example.com/hooks" */
  url!: string;
  /** @example "2026-12-01T08:12:40.000Z" */
  failing_since!: string;
  /** @example "HTTP 503" */
  @ApiPropertyOptional({ type: String, nullable: true, example: 'HTTP 503' })
  last_error!: string | null;
  /** @example "2026-12-01T09:29:58.000Z" */
  @ApiPropertyOptional({ type: String, nullable: true, example: '2026-12-01T09:29:58.000Z' })
  last_error_at!: string | null;
}

/** A task queue's queued runs. */
export class QueueDepthDto {
  /** @example "default" */
  queue!: string;
  /** @example 3 */
  queued!: number;
  /** How long its oldest due run has waited; 0 when none is due. @example 1.5 */
  oldest_due_age_seconds!: number;
}

/** The operator's overview: what came in, what ran, what was delivered, what is failing and what waits. */
export class OverviewDto {
  /** The window's start (a whole hour). @example "2026-11-30T10:00:00.000Z" */
  from!: string;
  /** @example "2026-12-01T09:31:02.120Z" */
  to!: string;
  /** @example 24 */
  hours!: number;
  /** Triggers received per hour and verdict (hours without any are left out). */
  receipts!: ReceiptHourDto[];
  /** Task runs created in the window, per status. */
  task_runs!: TaskStatusCountDto[];
  /** Delivery attempts per hour (hours without any are left out). */
  deliveries!: DeliveryHourDto[];
  delivery_totals!: DeliveryTotalsDto;
  /** Failing webhooks, the longest failing first (at most 20). */
  failing_webhooks!: FailingWebhookDto[];
  /** How many webhooks are failing in all. @example 1 */
  failing_webhooks_total!: number;
  /** Task runs waiting, per queue. */
  task_queues!: QueueDepthDto[];
  /** Deliveries waiting to be sent (due now or retrying later). @example 12 */
  deliveries_queued!: number;
  /** Of those, the ones due now. @example 2 */
  deliveries_due!: number;
  /** How long the oldest due delivery has waited, seconds. @example 0.4 */
  deliveries_oldest_due_age_seconds!: number;
  /** Worker processes alive now. @example 2 */
  live_workers!: number;
}
