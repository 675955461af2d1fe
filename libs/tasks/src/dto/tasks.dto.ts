import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches } from 'class-validator';
import { IsTimestamp, PageOf, PageQueryDto, QUEUE_NAME_PATTERN } from '@hookhub/core';
import { TASK_STATUSES, type TaskRun, type TaskStatus, type TaskTrigger } from '../entities/task-run.entity';
import { QUEUE_NAME_MESSAGE } from './programs.dto';

export class ListTasksQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: TASK_STATUSES })
  @IsOptional()
  @IsIn(TASK_STATUSES)
  status?: TaskStatus;

  @IsOptional()
  @IsUUID()
  program_id?: string;

  @IsOptional()
  @IsUUID()
  source_id?: string;

  @IsOptional()
  @IsUUID()
  receipt_id?: string;

  /** Runs of this task queue. @example "backup" */
  @IsOptional()
  @IsString()
  @Matches(QUEUE_NAME_PATTERN, { message: QUEUE_NAME_MESSAGE })
  queue?: string;

  /** Created at or after. @example "2026-11-23T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** Created before. */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class TaskRunDto {
  id!: string;
  @ApiPropertyOptional({ type: String, nullable: true })
  program_id!: string | null;
  /** @example "deploy" */
  program_name!: string;
  @ApiProperty({ enum: TASK_STATUSES, example: 'succeeded' })
  status!: TaskStatus;
  @ApiProperty({ enum: ['receipt', 'manual', 'retry'] })
  trigger!: TaskTrigger;
  @ApiPropertyOptional({ type: String, nullable: true })
  receipt_id!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  source_id!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  rule_id!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  retry_of!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  triggered_by!: string | null;
  /** 1 for the first attempt; retries count up. */
  attempt!: number;
  max_attempts!: number;
  /** @example ["--branch", "main"] */
  argv!: string[];
  /** Names of the env values the trigger set. */
  env_keys!: string[];
  @ApiPropertyOptional({ type: String, nullable: true })
  concurrency_key!: string | null;
  /** The task queue it was put on (its program's). @example "backup" */
  queue!: string;
  /** The worker that claimed it last (see `GET /api/workers`); null before any did. */
  @ApiPropertyOptional({ type: String, nullable: true, example: 'nas-01:4711:9f3c2a1b' })
  worker_id!: string | null;
  /** The host of that worker. */
  @ApiPropertyOptional({ type: String, nullable: true, example: 'nas-01' })
  worker_hostname!: string | null;
  @ApiPropertyOptional({ type: Number, nullable: true, example: 0 })
  exit_code!: number | null;
  @ApiPropertyOptional({ type: String, nullable: true, example: null })
  signal!: string | null;
  /** Why it failed, timed out or was canceled. */
  @ApiPropertyOptional({ type: String, nullable: true })
  error!: string | null;
  created_at!: string;
  run_at!: string;
  @ApiPropertyOptional({ type: String, nullable: true })
  started_at!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  finished_at!: string | null;
  @ApiPropertyOptional({ type: Number, nullable: true })
  duration_ms!: number | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  cancel_requested_at!: string | null;
}

export function toTaskRunDto(t: TaskRun): TaskRunDto {
  return {
    id: t.id,
    program_id: t.programId,
    program_name: t.programName,
    status: t.status,
    trigger: t.trigger,
    receipt_id: t.receiptId,
    source_id: t.sourceId,
    rule_id: t.ruleId,
    retry_of: t.retryOf,
    triggered_by: t.triggeredBy,
    attempt: t.attempt,
    max_attempts: t.maxAttempts,
    argv: t.argv,
    env_keys: Object.keys(t.env),
    concurrency_key: t.concurrencyKey,
    queue: t.queue,
    worker_id: t.workerId,
    worker_hostname: t.workerHostname,
    exit_code: t.exitCode,
    signal: t.signal,
    error: t.lastError,
    created_at: t.createdAt.toISOString(),
    run_at: t.runAt.toISOString(),
    started_at: t.startedAt?.toISOString() ?? null,
    finished_at: t.finishedAt?.toISOString() ?? null,
    duration_ms: t.durationMs,
    cancel_requested_at: t.cancelRequestedAt?.toISOString() ?? null,
  };
}

export class TaskRunDetailDto extends TaskRunDto {
  /** The tail of stdout (at most the program's output cap). */
  stdout!: string;
  stderr!: string;
  /** Bytes written in all; more than the tail when it was cut. */
  stdout_bytes!: number;
  stderr_bytes!: number;
}

export function toTaskRunDetailDto(t: TaskRun): TaskRunDetailDto {
  return {
    ...toTaskRunDto(t),
    stdout: t.stdout,
    stderr: t.stderr,
    stdout_bytes: t.stdoutBytes,
    stderr_bytes: t.stderrBytes,
  };
}

export class TaskRunPageDto extends PageOf(TaskRunDto) {}
