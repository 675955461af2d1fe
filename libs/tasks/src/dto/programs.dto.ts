import { ApiProperty, type ApiPropertyOptions, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import {
  Allow,
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { IsOmittable, PageOf, PageQueryDto, QUEUE_NAME_PATTERN, type TemplateInput } from '@hookhub/core';
import type { ConcurrencyPolicy, Program } from '../entities/program.entity';

export const TEMPLATE_LIST_SCHEMA: ApiPropertyOptions = {
  type: 'array',
  items: {
    oneOf: [
      { type: 'string' },
      {
        type: 'object',
        properties: { template: { type: 'string' }, pattern: { type: 'string' } },
        required: ['template'],
      },
    ],
  },
};

/** Why a queue name was refused (the field is named by the validation details). */
export const QUEUE_NAME_MESSAGE =
  'queue must be 1 to 64 lower-case letters, digits, . _ -, starting with a letter or digit';

export class CreateProgramDto {
  /** Unique name. @example "deploy" */
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: 'name may use letters, digits, . _ - and must start with a letter or digit',
  })
  name!: string;

  /** @example "Deploy the API from main" */
  @IsOmittable()
  @IsString()
  @MaxLength(1000)
  description?: string;

  /** Absolute path of an executable under HOOKHUB_PROGRAM_DIRS (or listed in HOOKHUB_PROGRAM_ALLOW). @example "/opt/hookhub/programs/deploy.sh" */
  @IsString()
  @MaxLength(4096)
  command!: string;

  /**
   * Argument templates, before the rule's own: each a string with `{{path}}` placeholders, or
   * `{template, pattern}` whose values must match `pattern`. `{{body.args}}` alone spreads an array.
   */
  @ApiPropertyOptional({ ...TEMPLATE_LIST_SCHEMA, example: ['--env', 'production'] })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(64)
  @Allow({ each: true })
  args?: TemplateInput[];

  /** Working directory (absolute); default the program's directory. */
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  cwd?: string;

  /** Env names the run may get: taken from the hub's environment when set there, or from a rule. @example ["PATH", "HOME"] */
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(64)
  @IsString({ each: true })
  @Matches(/^[A-Za-z_][A-Za-z0-9_]*$/, { each: true, message: 'env names are letters, digits and _' })
  env_allow?: string[];

  /** Fixed env values. @example {"DEPLOY_TARGET": "prod"} */
  @IsOmittable()
  @IsObject()
  env?: Record<string, string>;

  /** Seconds before the run is stopped (default 600). @example 600 */
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  timeout_seconds?: number;

  /** Bytes of stdout and of stderr kept, the tail (default 262144). @example 262144 */
  @IsOmittable()
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  output_cap_bytes?: number;

  /** Runs of this program at once, over all workers; omit for no limit. @example 2 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  concurrency_limit?: number | null;

  /** Template of a key under which runs never overlap. @example "{{body.repository.full_name}}:{{body.ref}}" */
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  concurrency_key?: string | null;

  /** When a run with the same key is in progress: wait (`queue`), drop the new run (`drop`), or cancel the older one (`replace`). */
  @ApiPropertyOptional({ enum: ['queue', 'drop', 'replace'], example: 'queue' })
  @IsOmittable()
  @IsIn(['queue', 'drop', 'replace'])
  concurrency_policy?: ConcurrencyPolicy;

  /**
   * The task queue its runs go to (default `default`): only workers whose HOOKHUB_WORKER_QUEUES lists it run
   * them, e.g. `backup` for the worker on the host with the disks. @example "backup"
   */
  @IsOmittable()
  @IsString()
  @Matches(QUEUE_NAME_PATTERN, { message: QUEUE_NAME_MESSAGE })
  queue?: string;

  /** Retries after a failure or timeout (default 0). @example 2 */
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(20)
  retry_max?: number;

  /** First retry delay in seconds, doubled for each further retry (default 30). @example 30 */
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(86_400)
  retry_backoff_seconds?: number;

  /** Whether `POST /api/programs/{id}/run` may start it (default true). */
  @IsOmittable()
  @IsBoolean()
  manual_run?: boolean;

  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;
}

export class UpdateProgramDto extends PartialType(CreateProgramDto, { skipNullProperties: false }) {}

export class ListProgramsQueryDto extends PageQueryDto {
  /** Part of the name. @example "deploy" */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;
}

export class ProgramDto {
  id!: string;
  /** The number trigger-by-id sources use. @example 1 */
  number!: number;
  name!: string;
  description!: string;
  command!: string;
  @ApiProperty(TEMPLATE_LIST_SCHEMA)
  args!: TemplateInput[];
  @ApiPropertyOptional({ type: String, nullable: true })
  cwd!: string | null;
  env_allow!: string[];
  /** Names of the fixed env values (values are not returned). */
  env_keys!: string[];
  timeout_seconds!: number;
  output_cap_bytes!: number;
  @ApiPropertyOptional({ type: Number, nullable: true })
  concurrency_limit!: number | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  concurrency_key!: string | null;
  @ApiProperty({ enum: ['queue', 'drop', 'replace'] })
  concurrency_policy!: ConcurrencyPolicy;
  /** The task queue its runs go to. @example "default" */
  queue!: string;
  retry_max!: number;
  retry_backoff_seconds!: number;
  manual_run!: boolean;
  enabled!: boolean;
  created_at!: string;
  updated_at!: string;
}

export function toProgramDto(p: Program): ProgramDto {
  return {
    id: p.id,
    number: p.number,
    name: p.name,
    description: p.description,
    command: p.command,
    args: p.args,
    cwd: p.cwd,
    env_allow: p.envAllow,
    env_keys: Object.keys(p.env),
    timeout_seconds: p.timeoutSeconds,
    output_cap_bytes: p.outputCapBytes,
    concurrency_limit: p.concurrencyLimit,
    concurrency_key: p.concurrencyKey,
    concurrency_policy: p.concurrencyPolicy,
    queue: p.queue,
    retry_max: p.retryMax,
    retry_backoff_seconds: p.retryBackoffSeconds,
    manual_run: p.manualRun,
    enabled: p.enabled,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

export class ProgramPageDto extends PageOf(ProgramDto) {}

export class ManualRunDto {
  /** Data for the program's templates, available as `body` (`{{body.branch}}`). @example {"branch": "main"} */
  @IsOptional()
  @IsObject()
  payload?: Record<string, unknown>;
}
