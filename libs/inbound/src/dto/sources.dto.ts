import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsInt,
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
import { IsOmittable, IsTimestamp, PageOf, PageQueryDto } from '@hookhub/core';
import { VERIFICATION_SCHEMES, VERIFIERS, type VerificationScheme } from '../verifiers';
import type {
  AnswerTemplate,
  DedupMode,
  Dispatch,
  ErrorStyle,
  MatchMode,
  ResponseMode,
  Source,
} from '../entities/source.entity';
import { ALIAS_PATTERN, MAX_ALIASES } from '../routing/hub-routes';

export class VerificationOptionsDto {
  /** hmac / token: header carrying the signature or token. @example "X-Signature" */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9-]{1,100}$/, { message: 'header must be a header name' })
  header?: string;

  @ApiPropertyOptional({ enum: ['sha1', 'sha256', 'sha512'], example: 'sha256' })
  @IsOptional()
  @IsIn(['sha1', 'sha256', 'sha512'])
  algorithm?: 'sha1' | 'sha256' | 'sha512';

  @ApiPropertyOptional({ enum: ['hex', 'base64'], example: 'base64' })
  @IsOptional()
  @IsIn(['hex', 'base64'])
  encoding?: 'hex' | 'base64';

  /** hmac: text before the digest, e.g. `sha256=`. */
  @IsOptional()
  @IsString()
  @MaxLength(32)
  prefix?: string;

  /** github: accept the legacy sha1 header when the sha256 one is absent. */
  @IsOptional()
  @IsBoolean()
  allow_sha1?: boolean;
}

/**
 * How a source answers, for senders that expect another hub's answers. Each body is a template: a JSON value
 * whose strings may hold `{{path}}` placeholders (a string that is one placeholder alone becomes the value,
 * so `"{{program.number}}"` is a number), or a text (sent as text/plain). Placeholders read `message`,
 * `receipt_id`, `matched`, `duplicate`, `task_ids`, `tasks`, `task` (the first run: `id`, `program`, and for
 * sync sources `status`, `exit_code`, `output`), `program` (`id`, `name`, `number`), `output`, `exit_code`,
 * `succeeded` (sync sources), `event`, `body` and `query` (the trigger's).
 */
export class SourceAnswerDto {
  /** Status of a trigger that started runs (and for a sync source, whose runs succeeded). Default 202 (sync: 200). @example 200 */
  @IsOmittable()
  @IsInt()
  @Min(200)
  @Max(299)
  status?: number;

  /** Body of that answer (default Hookhub's). @example {"message": "Sync triggered successfully", "task_id": "{{program.number}}"} */
  @ApiPropertyOptional({ oneOf: [{ type: 'object' }, { type: 'array' }, { type: 'string' }] })
  @IsOptional()
  body?: AnswerTemplate;

  /** Status when a sync source's run did not succeed (default 200). @example 500 */
  @IsOmittable()
  @IsInt()
  @Min(200)
  @Max(599)
  failed_status?: number;

  /** Body of that answer (default `body`, else Hookhub's). @example {"error": "Backup failed: {{task.status}}", "output": "{{output}}"} */
  @ApiPropertyOptional({ oneOf: [{ type: 'object' }, { type: 'array' }, { type: 'string' }] })
  @IsOptional()
  failed_body?: AnswerTemplate;

  /** Status when the trigger was verified but no rule matched (default 202). @example 200 */
  @IsOmittable()
  @IsInt()
  @Min(200)
  @Max(599)
  unmatched_status?: number;

  /** Body of that answer (default Hookhub's). @example "Hook rules were not satisfied." */
  @ApiPropertyOptional({ oneOf: [{ type: 'object' }, { type: 'array' }, { type: 'string' }] })
  @IsOptional()
  unmatched_body?: AnswerTemplate;

  /**
   * How refusals are worded: `hookhub` (default: `code`, `message`, `requestId`...), or `simple`:
   * `{"error": "Invalid signature"}`, with the short messages of the hubs Hookhub replaces.
   */
  @ApiPropertyOptional({ enum: ['hookhub', 'simple'], example: 'simple' })
  @IsOmittable()
  @IsIn(['hookhub', 'simple'])
  errors?: ErrorStyle;

  /** `simple` errors: a message per error code, over the built-in ones. @example {"not_found": "Task not found"} */
  @IsOptional()
  @IsObject()
  error_messages?: Record<string, string>;
}

export class CreateSourceDto {
  /** The URL part: triggers go to `POST /hooks/{slug}`. @example "github-api" */
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'slug is lower-case letters, digits and -, at most 63 characters' })
  slug!: string;

  @IsOmittable() @IsString() @MaxLength(200) name?: string;
  @IsOmittable() @IsString() @MaxLength(2000) description?: string;

  /** How requests are verified. `none` must be chosen explicitly and is flagged in listings. */
  @ApiProperty({ enum: VERIFICATION_SCHEMES, example: 'github' })
  @IsIn(VERIFICATION_SCHEMES)
  scheme!: VerificationScheme;

  @IsOptional()
  @ValidateNested()
  @Type(() => VerificationOptionsDto)
  verification?: VerificationOptionsDto;

  /** Secrets (several during a rotation). Encrypted at rest; never returned. `basic` secrets are `user:password`. @example ["my-secret-key"] */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(5)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(1024, { each: true })
  secrets?: string[];

  /** Allowed client addresses or CIDRs (IPv4 and IPv6); empty allows every address. @example ["192.168.1.0/24", "10.0.0.1"] */
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(256)
  @IsString({ each: true })
  ip_allow?: string[];

  /** Requests a minute (default 100). @example 100 */
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  rate_limit?: number;

  /** Largest body in bytes (default 1 MiB). @example 1048576 */
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(1024 * 1024 * 1024)
  body_limit?: number;

  /** Allowed methods (default POST). @example ["POST"] */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(['POST', 'PUT', 'PATCH', 'GET', 'DELETE'], { each: true })
  methods?: string[];

  /** Allowed content types (default application/json). @example ["application/json"] */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(16)
  @IsString({ each: true })
  @Matches(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+*-]+$/, { each: true })
  content_types?: string[];

  /** Seconds a signed timestamp may differ from now (default 300). */
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(86_400)
  replay_window_seconds?: number;

  /** Seconds a delivery id (or body digest) is remembered (default 86400; 0 turns de-duplication off). */
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(30 * 86_400)
  dedup_window_seconds?: number;

  /**
   * What makes a request a duplicate (answered 200 with the original receipt, nothing run again):
   * `delivery_id` (default: the scheme's delivery id, `dedup_header` or `dedup_field`), or `body`: the same
   * body bytes within `dedup_window_seconds`. `hmac`, `token` and `basic` carry no timestamp or delivery id,
   * so without `body` an intercepted request can be replayed.
   */
  @ApiPropertyOptional({ enum: ['delivery_id', 'body'], example: 'delivery_id' })
  @IsOmittable()
  @IsIn(['delivery_id', 'body'])
  dedup?: DedupMode;

  /** Header holding the delivery id (default: the scheme's, e.g. X-GitHub-Delivery, webhook-id). @example "X-Request-Id" */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9-]{1,100}$/)
  dedup_header?: string | null;

  /** Or a body path holding it (it starts with `body.`). @example "body.id" */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  dedup_field?: string | null;

  /** Header naming the event type (default: the scheme's, e.g. X-GitHub-Event). */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9-]{1,100}$/)
  event_header?: string | null;

  /** Or a body path naming it (it starts with `body.`). @example "body.type" */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  event_field?: string | null;

  /** `async`: 202 with task ids at once. `sync`: wait up to `sync_timeout_seconds` and return exit code and output. */
  @ApiPropertyOptional({ enum: ['async', 'sync'], example: 'async' })
  @IsOmittable()
  @IsIn(['async', 'sync'])
  response_mode?: ResponseMode;

  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(600)
  sync_timeout_seconds?: number;

  /** Run the first matching rule only, or every matching rule. */
  @ApiPropertyOptional({ enum: ['first', 'all'], example: 'first' })
  @IsOmittable()
  @IsIn(['first', 'all'])
  match_mode?: MatchMode;

  /** `rules` (default), or `by_id`: the body names the program by number (`{"task_id": 1}`). */
  @ApiPropertyOptional({ enum: ['rules', 'by_id'], example: 'rules' })
  @IsOmittable()
  @IsIn(['rules', 'by_id'])
  dispatch?: Dispatch;

  /** by_id: the body field with the program number (default task_id). */
  @IsOmittable()
  @IsString()
  @Matches(/^[A-Za-z0-9_]{1,64}$/)
  id_field?: string;

  /** by_id: the programs this source may start. */
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsUUID('all', { each: true })
  by_id_programs?: string[];

  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;

  /**
   * Extra exact paths that reach this source besides `/hooks/{slug}`, for senders that cannot change their
   * URL. Refused when Hookhub answers that path itself or another source has it. @example ["/backup"]
   */
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(MAX_ALIASES)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  @Matches(ALIAS_PATTERN, {
    each: true,
    message: 'each alias is an absolute path of letters, digits and . _ ~ @ - segments, without a trailing /',
  })
  aliases?: string[];

  /** How this source answers (null: Hookhub's answers). */
  @IsOptional()
  @ValidateNested()
  @Type(() => SourceAnswerDto)
  answer?: SourceAnswerDto | null;
}

export class UpdateSourceDto extends PartialType(CreateSourceDto, { skipNullProperties: false }) {}

export class ListSourcesQueryDto extends PageQueryDto {
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;
}

export class SourceDto {
  id!: string;
  slug!: string;
  name!: string;
  description!: string;
  enabled!: boolean;
  /** The URL path to send triggers to. @example "/hooks/github-api" */
  url_path!: string;
  @ApiProperty({ enum: VERIFICATION_SCHEMES })
  scheme!: VerificationScheme;
  /** True when the scheme verifies nothing (`none`): anyone who knows the URL can trigger it. */
  unverified!: boolean;
  verification!: VerificationOptionsDto;
  /** How many secrets are set (the secrets themselves are never returned). */
  secret_count!: number;
  ip_allow!: string[];
  rate_limit!: number;
  body_limit!: number;
  methods!: string[];
  content_types!: string[];
  replay_window_seconds!: number;
  dedup_window_seconds!: number;
  @ApiProperty({ enum: ['delivery_id', 'body'] }) dedup!: DedupMode;
  @ApiPropertyOptional({ type: String, nullable: true }) dedup_header!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) dedup_field!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) event_header!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) event_field!: string | null;
  @ApiProperty({ enum: ['async', 'sync'] }) response_mode!: ResponseMode;
  sync_timeout_seconds!: number;
  @ApiProperty({ enum: ['first', 'all'] }) match_mode!: MatchMode;
  @ApiProperty({ enum: ['rules', 'by_id'] }) dispatch!: Dispatch;
  id_field!: string;
  by_id_programs!: string[];
  /** @example ["/backup"] */
  aliases!: string[];
  @ApiPropertyOptional({ type: SourceAnswerDto, nullable: true })
  answer!: SourceAnswerDto | null;
  created_at!: string;
  updated_at!: string;
}

export function toSourceDto(s: Source): SourceDto {
  return {
    id: s.id,
    slug: s.slug,
    name: s.name,
    description: s.description,
    enabled: s.enabled,
    url_path: `/hooks/${s.slug}`,
    scheme: s.scheme,
    unverified: !VERIFIERS[s.scheme].needsSecret,
    verification: s.verification,
    secret_count: s.secrets.length,
    ip_allow: s.ipAllow,
    rate_limit: s.rateLimit,
    body_limit: s.bodyLimit,
    methods: s.methods,
    content_types: s.contentTypes,
    replay_window_seconds: s.replayWindowSeconds,
    dedup_window_seconds: s.dedupWindowSeconds,
    dedup: s.dedup,
    dedup_header: s.dedupHeader,
    dedup_field: s.dedupField,
    event_header: s.eventHeader,
    event_field: s.eventField,
    response_mode: s.responseMode,
    sync_timeout_seconds: s.syncTimeoutSeconds,
    match_mode: s.matchMode,
    dispatch: s.dispatch,
    id_field: s.idField,
    by_id_programs: s.byIdPrograms,
    aliases: s.aliases,
    answer: s.answer,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

export class SourcePageDto extends PageOf(SourceDto) {}

export class SourceStatsQueryDto {
  /** Start of the range (default 24 hours ago). */
  @IsOptional()
  @IsTimestamp()
  from?: string;
  /** End of the range (default now). */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class HourBucketDto {
  /** @example "2026-11-23T12:00:00.000Z" */
  hour!: string;
  /** @example {"accepted": 10, "rejected": 2} */
  by_verdict!: Record<string, number>;
  total!: number;
}

export class SourceStatsDto {
  source_id!: string;
  from!: string;
  to!: string;
  total!: number;
  /** @example {"accepted": 120, "unmatched": 4, "duplicate": 2, "rejected": 9} */
  by_verdict!: Record<string, number>;
  /** @example {"202": 124, "401": 9} */
  by_status!: Record<string, number>;
  by_hour!: HourBucketDto[];
}
