import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { IsTimestamp, PageOf, PageQueryDto } from '@hookhub/core';
import { TASK_STATUSES, type TaskStatus, type TaskTrigger } from '../entities/task-run.entity';

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

export class TaskRunDetailDto extends TaskRunDto {
  /** The tail of stdout (at most the program's output cap). */
  stdout!: string;
  stderr!: string;
  /** Bytes written in all; more than the tail when it was cut. */
  stdout_bytes!: number;
  stderr_bytes!: number;
}

export class TaskRunPageDto extends PageOf(TaskRunDto) {}
