import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { IsOmittable, IsTimestamp, PageOf, PageQueryDto, queryBoolean } from '@hookhub/core';
import type { DeliveryAttempt } from '../entities/delivery-attempt.entity';
import {
  DELIVERY_STATUSES,
  type Delivery,
  type DeliveryStatus,
  type DeliveryTrigger,
} from '../entities/delivery.entity';
import type { BodyFormat } from '../entities/webhook.entity';
import { SIGNATURE_FORMATS, type SignatureFormat } from '../signing/signing';

const HEADER_NAME = /^[A-Za-z0-9-]{1,100}$/;
const FILTER_EXAMPLE = { path: 'data.status', in: ['failed', 'stopped'] };

export class SignatureOptionsDto {
  /** github: prefix of the event and delivery headers (`X-GitHub` gives `X-GitHub-Event`). @example "X-GitHub" */
  @IsOptional()
  @IsString()
  @Matches(HEADER_NAME, { message: 'header_prefix must be a header name' })
  header_prefix?: string;

  /** hmac-hex: the signature header. @example "X-ATLAS-Signature" */
  @IsOptional()
  @IsString()
  @Matches(HEADER_NAME, { message: 'header must be a header name' })
  header?: string;

  /** hmac-hex: the header that carries the event type. @example "X-ATLAS-Event" */
  @IsOptional()
  @IsString()
  @Matches(HEADER_NAME, { message: 'event_header must be a header name' })
  event_header?: string;
}

export class CreateWebhookDto {
  /** Where deliveries are POSTed. Private, loopback and reserved addresses are refused unless HOOKHUB_OUTBOUND_ALLOW lists them. @example "https://example.com/hooks/hookhub" */
  @IsString()
  @MaxLength(2048)
  url!: string;

  /** @example "ops chat" */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;

  /** Event types: exact names, `prefix.*` wildcards, or `*` for all. @example ["service.started", "user.created", "task.*"] */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  events!: string[];

  /**
   * Only events whose payload matches are delivered: the condition language of inbound rules, with paths
   * starting at `type` and `data`.
   */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, example: FILTER_EXAMPLE })
  @IsOptional()
  @Allow()
  payload_filter?: unknown;

  /**
   * Extra request headers (not the signature or transport headers). Their values are secrets: sealed at
   * rest, never shown again (answers list the names in `header_names`), left out of logs and the audit log.
   * @example {"Authorization": "Bearer abc"}
   */
  @IsOmittable()
  @IsObject()
  headers?: Record<string, string>;

  /** Per attempt, for the whole exchange (default 15000). @example 15000 */
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(120_000)
  timeout_ms?: number;

  /** Seconds before each retry (default 5, 300, 1800, 7200, 18000, 36000, 36000, with ±20% jitter). @example [5, 300, 1800] */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true })
  @Min(0, { each: true })
  @Max(604_800, { each: true })
  retry_schedule?: number[];

  /** false: one attempt only (same as an empty retry_schedule). */
  @IsOptional()
  @IsBoolean()
  retry_enabled?: boolean;

  /** Requests to this URL in flight at once (default HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT). @example 10 */
  @ApiPropertyOptional({ type: Number, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  max_in_flight?: number | null;

  /** Requests started per second at most (default: no limit). @example 50 */
  @ApiPropertyOptional({ type: Number, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  max_per_second?: number | null;

  @ApiPropertyOptional({ enum: SIGNATURE_FORMATS, example: 'standard-webhooks' })
  @IsOptional()
  @IsIn(SIGNATURE_FORMATS)
  signature_format?: SignatureFormat;

  @IsOmittable()
  @ValidateNested()
  @Type(() => SignatureOptionsDto)
  signature_options?: SignatureOptionsDto;

  /** `compact` (default) sends the JSON as published; `sorted` sorts keys with Python `json.dumps(sort_keys=True)` spacing, for receivers that re-serialize before checking. */
  @ApiPropertyOptional({ enum: ['compact', 'sorted'], example: 'compact' })
  @IsOptional()
  @IsIn(['compact', 'sorted'])
  body_format?: BodyFormat;

  /** The signing secret (default: a new `whsec_` secret). At least 16 characters. */
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(256)
  secret?: string;

  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** PATCH: every field optional; only the given ones change. */
export class PatchWebhookDto {
  @IsOptional() @IsString() @MaxLength(2048) url?: string;
  @IsOptional() @IsString() @MaxLength(200) name?: string;
  @IsOptional() @IsString() @MaxLength(2000) description?: string;
  @IsOmittable() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100) @IsString({ each: true }) events?: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, example: FILTER_EXAMPLE })
  @IsOptional()
  @Allow()
  payload_filter?: unknown;
  /**
   * Custom headers to set or change (`"Name": "value"`) or remove (`"Name": null`); the others are kept.
   * @example {"X-Api-Token": "new-token", "X-Old": null}
   */
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string', nullable: true } })
  @IsOmittable()
  @IsObject()
  headers?: Record<string, string | null>;
  @IsOptional() @IsInt() @Min(100) @Max(120_000) timeout_ms?: number;
  @ApiPropertyOptional({ type: [Number], nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true })
  @Min(0, { each: true })
  @Max(604_800, { each: true })
  retry_schedule?: number[] | null;
  @IsOptional() @IsBoolean() retry_enabled?: boolean;
  @ApiPropertyOptional({ type: Number, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  max_in_flight?: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  max_per_second?: number | null;
  @ApiPropertyOptional({ enum: SIGNATURE_FORMATS })
  @IsOptional()
  @IsIn(SIGNATURE_FORMATS)
  signature_format?: SignatureFormat;
  @IsOmittable() @ValidateNested() @Type(() => SignatureOptionsDto) signature_options?: SignatureOptionsDto;
  @ApiPropertyOptional({ enum: ['compact', 'sorted'] })
  @IsOptional()
  @IsIn(['compact', 'sorted'])
  body_format?: BodyFormat;
  @IsOptional() @IsBoolean() enabled?: boolean;
}

export class SecretInfoDto {
  created_at!: string;
  /** Set on a previous secret during a rotation's grace period. */
  @ApiPropertyOptional({ type: String, nullable: true })
  expires_at!: string | null;
}

export class WebhookDto {
  id!: string;
  url!: string;
  name!: string;
  description!: string;
  /** @example ["service.started", "user.created"] */
  events!: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, example: FILTER_EXAMPLE })
  payload_filter!: unknown;
  /** The names of the custom headers; their values are write-only. @example ["Authorization"] */
  header_names!: string[];
  timeout_ms!: number;
  /** The waits before each retry, in seconds (the default when the webhook sets none). */
  retry_schedule!: number[];
  /** False when the webhook has its own schedule. */
  retry_schedule_default!: boolean;
  retry_enabled!: boolean;
  @ApiPropertyOptional({ type: Number, nullable: true })
  max_in_flight!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true })
  max_per_second!: number | null;
  @ApiProperty({ enum: SIGNATURE_FORMATS })
  signature_format!: SignatureFormat;
  signature_options!: SignatureOptionsDto;
  @ApiProperty({ enum: ['compact', 'sorted'] })
  body_format!: BodyFormat;
  @ApiProperty({ type: () => [SecretInfoDto] })
  secrets!: SecretInfoDto[];
  enabled!: boolean;
  /** Why Hookhub disabled it (410 Gone, or failing for too long); null when enabled or disabled by hand. */
  @ApiPropertyOptional({ type: String, nullable: true })
  disabled_reason!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  disabled_at!: string | null;
  /** @example "HTTP 500: upstream unavailable" */
  @ApiPropertyOptional({ type: String, nullable: true })
  last_error!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  last_error_at!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  last_success_at!: string | null;
  /** Every attempt since then failed; at HOOKHUB_WEBHOOK_DISABLE_AFTER_SECONDS the webhook is disabled. */
  @ApiPropertyOptional({ type: String, nullable: true })
  failing_since!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  created_by!: string | null;
  created_at!: string;
  updated_at!: string;
}

export class WebhookCreatedDto extends WebhookDto {
  /** The signing secret. Shown only now (and by a rotation); store it in the receiver. @example "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" */
  secret!: string;
}

export class WebhookPageDto extends PageOf(WebhookDto) {}

export class ListWebhooksQueryDto extends PageQueryDto {
  /** Part of the name, description or URL. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  enabled?: boolean;

  /** Webhooks subscribed to this event type (wildcards applied). @example "service.started" */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  event?: string;
}

export class RotateSecretDto {
  /** How long the previous secret keeps signing too (default HOOKHUB_SECRET_ROTATION_GRACE_SECONDS, 24 h). 0 retires it now. @example 86400 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(30 * 86400)
  grace_seconds?: number;

  /** The new secret (default: a new `whsec_` secret). */
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(256)
  secret?: string;
}

export class SecretRotatedDto {
  /** The new secret, shown only now. */
  secret!: string;
  /** Until when the previous secret also signs. */
  @ApiPropertyOptional({ type: String, nullable: true })
  previous_expires_at!: string | null;
  @ApiProperty({ type: () => WebhookDto })
  webhook!: WebhookDto;
}

export class AttemptDto {
  id!: string;
  delivery_id!: string;
  event_id!: string;
  webhook_id!: string;
  /** @example "service.started" */
  event_type!: string;
  /** 1 for the first attempt of the delivery. */
  attempt!: number;
  @ApiProperty({ enum: ['auto', 'test', 'manual', 'recover'] })
  trigger!: DeliveryTrigger;
  url!: string;
  /** The request headers, with signature values replaced by `[redacted]`. */
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  request_headers!: Record<string, string>;
  /** @example 200 */
  @ApiPropertyOptional({ type: Number, nullable: true })
  status_code!: number | null;
  success!: boolean;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  response_headers!: Record<string, string>;
  /** The first 16 KiB of the response body. */
  response_body!: string;
  response_truncated!: boolean;
  /** @example 42 */
  duration_ms!: number;
  /** @example "connect ECONNREFUSED" */
  @ApiPropertyOptional({ type: String, nullable: true })
  error!: string | null;
  /** `lost`: a worker stopped after it claimed this attempt and before it recorded the outcome; the receiver may have got it. */
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    enum: ['blocked', 'timeout', 'connect', 'tls', 'protocol', 'http', 'lost'],
  })
  error_kind!: string | null;
  /** When the next attempt is due, if this one failed and one is scheduled. */
  @ApiPropertyOptional({ type: String, nullable: true })
  next_attempt_at!: string | null;
  created_at!: string;
}

export function toAttemptDto(a: DeliveryAttempt): AttemptDto {
  return {
    id: a.id,
    delivery_id: a.deliveryId,
    event_id: a.eventId,
    webhook_id: a.webhookId,
    event_type: a.eventType,
    attempt: a.attempt,
    trigger: a.trigger,
    url: a.url,
    request_headers: a.requestHeaders,
    status_code: a.statusCode,
    success: a.success,
    response_headers: a.responseHeaders,
    response_body: a.responseBody,
    response_truncated: a.responseTruncated,
    duration_ms: a.durationMs,
    error: a.error,
    error_kind: a.errorKind,
    next_attempt_at: a.nextAttemptAt?.toISOString() ?? null,
    created_at: a.createdAt.toISOString(),
  };
}

export class AttemptPageDto extends PageOf(AttemptDto) {}

export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'none'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export class ListAttemptsQueryDto extends PageQueryDto {
  /** Only successful (true) or failed (false) attempts. */
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  success?: boolean;

  /** `none`: no HTTP answer (connect error, timeout, refused address). */
  @ApiPropertyOptional({ enum: STATUS_CLASSES })
  @IsOptional()
  @IsIn(STATUS_CLASSES)
  status_class?: StatusClass;

  /** @example "service.started" */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  event_type?: string;

  @IsOptional()
  @IsUUID()
  delivery_id?: string;

  /** At or after. @example "2026-11-23T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** Before. */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class RecentAttemptsQueryDto extends ListAttemptsQueryDto {
  /** The last this many hours (default 24, at most 720). @example 24 */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(720)
  hours?: number;
}

export class StatsQueryDto {
  /** From (default: 24 hours ago). @example "2026-11-22T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** To (default: now). */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class WebhookStatsDto {
  webhook_id!: string;
  from!: string;
  to!: string;
  /** Deliveries created in the range. @example 120 */
  total!: number;
  /** @example 117 */
  succeeded!: number;
  /** Gave up (schedule exhausted, 410, or webhook disabled). @example 1 */
  failed!: number;
  /** Queued or in flight, including those waiting for a retry. @example 2 */
  pending!: number;
  /** succeeded / (succeeded + failed); null when nothing finished. @example 0.9915 */
  @ApiPropertyOptional({ type: Number, nullable: true })
  success_rate!: number | null;
  /** Attempts (HTTP requests) made in the range. @example 126 */
  attempts!: number;
  /** @example 120 */
  attempts_succeeded!: number;
  /** Median attempt duration in ms. @example 38 */
  @ApiPropertyOptional({ type: Number, nullable: true })
  p50_ms!: number | null;
  /** @example 210 */
  @ApiPropertyOptional({ type: Number, nullable: true })
  p95_ms!: number | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  last_success_at!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  last_error!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  last_error_at!: string | null;
  /** The width of `periods`: an hour for ranges up to 7 days, else a day. @example "hour" */
  @ApiProperty({ enum: ['hour', 'day'] })
  period!: 'hour' | 'day';
  /** Attempts per period of the range (periods without attempts are left out), oldest first. */
  @ApiProperty({ type: () => [AttemptPeriodDto] })
  periods!: AttemptPeriodDto[];
}

/** The attempts made in one period of a stats range. */
export class AttemptPeriodDto {
  /** @example "2026-12-01T09:00:00.000Z" */
  start!: string;
  /** @example 42 */
  attempts!: number;
  /** @example 40 */
  attempts_succeeded!: number;
}

export class DeliveryDto {
  id!: string;
  event_id!: string;
  webhook_id!: string;
  event_type!: string;
  @ApiProperty({ enum: DELIVERY_STATUSES, example: 'succeeded' })
  status!: DeliveryStatus;
  @ApiProperty({ enum: ['auto', 'test', 'manual', 'recover'] })
  trigger!: DeliveryTrigger;
  attempts!: number;
  /** When the next attempt is due (queued deliveries). */
  @ApiPropertyOptional({ type: String, nullable: true })
  next_attempt_at!: string | null;
  @ApiPropertyOptional({ type: Number, nullable: true })
  last_status!: number | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  last_error!: string | null;
  created_at!: string;
  @ApiPropertyOptional({ type: String, nullable: true })
  finished_at!: string | null;
}

export function toDeliveryDto(d: Delivery): DeliveryDto {
  return {
    id: d.id,
    event_id: d.eventId,
    webhook_id: d.webhookId,
    event_type: d.eventType,
    status: d.status,
    trigger: d.trigger,
    attempts: d.attempts,
    next_attempt_at: d.status === 'queued' ? d.runAt.toISOString() : null,
    last_status: d.lastStatus,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    finished_at: d.finishedAt?.toISOString() ?? null,
  };
}

export class DeliveryPageDto extends PageOf(DeliveryDto) {}

export class ListDeliveriesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  event_type?: string;

  @IsOptional()
  @IsTimestamp()
  from?: string;

  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class RecoverDto {
  /** Failed deliveries created at or after this time are queued again. @example "2026-11-22T00:00:00Z" */
  @IsTimestamp()
  from!: string;

  /** ...and before this time (default: now). */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class RecoveredDto {
  /** Deliveries queued again. @example 12 */
  requeued!: number;
}

export class WebhookTestResultDto {
  event_id!: string;
  delivery_id!: string;
  @ApiProperty({ type: () => AttemptDto })
  attempt!: AttemptDto;
}
