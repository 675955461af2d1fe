import { ApiPropertyOptional } from '@nestjs/swagger';
import { TASK_STATUSES, type TaskStatus } from '@hookhub/tasks';

export class HookTaskDto {
  id!: string;
  program!: string;
  @ApiPropertyOptional({ enum: TASK_STATUSES }) status?: TaskStatus;
  @ApiPropertyOptional({ type: Number, nullable: true }) exit_code?: number | null;
  stdout?: string;
  stderr?: string;
  @ApiPropertyOptional({ type: String, nullable: true }) error?: string | null;
}

/** What the receiver answers for a verified trigger. */
export class HookResponseDto {
  /** @example "Triggered 1 task" */
  message!: string;
  receipt_id!: string;
  /** Whether a rule (or the task id) matched. */
  matched!: boolean;
  /** @example ["7a0c..."] */
  task_ids!: string[];
  tasks!: HookTaskDto[];
  /** True when this delivery id was received before; nothing ran again. */
  duplicate?: boolean;
  /** by_id sources: the number from the body. @example 1 */
  task_id?: number;
  /** sync sources: stdout of the first task (scenario 1's `output`). */
  output?: string;
  /** sync sources: exit code of the first task. */
  @ApiPropertyOptional({ type: Number, nullable: true }) exit_code?: number | null;
  /** sync sources: whether every task succeeded. */
  succeeded?: boolean;
}
