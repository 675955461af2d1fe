import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const FINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'timed_out', 'canceled'];
export type TaskTrigger = 'receipt' | 'manual' | 'retry';

/** One execution of a program; a row of the task queue. */
@Entity({ name: 'task_runs' })
export class TaskRun {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'program_id', type: 'uuid', nullable: true })
  programId!: string | null;

  @Column({ name: 'program_name', type: 'text' })
  programName!: string;

  @Column({ type: 'text' })
  trigger!: TaskTrigger;

  @Column({ name: 'receipt_id', type: 'uuid', nullable: true })
  receiptId!: string | null;

  @Column({ name: 'source_id', type: 'uuid', nullable: true })
  sourceId!: string | null;

  @Column({ name: 'rule_id', type: 'uuid', nullable: true })
  ruleId!: string | null;

  @Column({ name: 'retry_of', type: 'uuid', nullable: true })
  retryOf!: string | null;

  @Column({ name: 'triggered_by', type: 'text', nullable: true })
  triggeredBy!: string | null;

  @Column({ type: 'int', default: 1 })
  attempt!: number;

  @Column({ name: 'max_attempts', type: 'int', default: 1 })
  maxAttempts!: number;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  argv!: string[];

  /** Env values rendered from the trigger (the program's fixed values are added at spawn time). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  env!: Record<string, string>;

  @Column({ name: 'concurrency_key', type: 'text', nullable: true })
  concurrencyKey!: string | null;

  @Column({ type: 'text', default: 'queued' })
  status!: TaskStatus;

  /** The program's queue when the run was made: only workers that take this queue claim it. */
  @Column({ type: 'text', default: 'default' })
  queue!: string;

  /** A queued run held back by a concurrency rule: `key` or `program`; null when claimable. */
  @Column({ name: 'parked_on', type: 'text', nullable: true })
  parkedOn!: 'key' | 'program' | null;

  /** The worker that claimed the run last, and its host. */
  @Column({ name: 'worker_id', type: 'text', nullable: true })
  workerId!: string | null;

  @Column({ name: 'worker_hostname', type: 'text', nullable: true })
  workerHostname!: string | null;

  @Column({ name: 'run_at', type: 'timestamptz', precision: 3 })
  runAt!: Date;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'locked_by', type: 'text', nullable: true })
  lockedBy!: string | null;

  @Column({ name: 'locked_until', type: 'timestamptz', precision: 3, nullable: true })
  lockedUntil!: Date | null;

  /** Why the run failed, timed out or was canceled. */
  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'cancel_requested_at', type: 'timestamptz', precision: 3, nullable: true })
  cancelRequestedAt!: Date | null;

  @Column({ name: 'started_at', type: 'timestamptz', precision: 3, nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', precision: 3, nullable: true })
  finishedAt!: Date | null;

  @Column({ name: 'exit_code', type: 'int', nullable: true })
  exitCode!: number | null;

  @Column({ type: 'text', nullable: true })
  signal!: string | null;

  @Column({ name: 'duration_ms', type: 'int', nullable: true })
  durationMs!: number | null;

  @Column({ type: 'text', default: '' })
  stdout!: string;

  @Column({ type: 'text', default: '' })
  stderr!: string;

  @Column({
    name: 'stdout_bytes',
    type: 'bigint',
    default: 0,
    transformer: { to: (v: number) => v, from: (v: string | null) => Number(v ?? 0) },
  })
  stdoutBytes!: number;

  @Column({
    name: 'stderr_bytes',
    type: 'bigint',
    default: 0,
    transformer: { to: (v: number) => v, from: (v: string | null) => Number(v ?? 0) },
  })
  stderrBytes!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
