import { Column, CreateDateColumn, Entity, Generated, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { TemplateInput } from '@hookhub/core';

export type ConcurrencyPolicy = 'queue' | 'drop' | 'replace';

/** An allow-listed local program: the only thing a trigger or a manual run can execute. */
@Entity({ name: 'programs' })
export class Program {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** A small stable number, for trigger-by-id sources (`{"task_id": 1}`). */
  @Column({ type: 'int', insert: false, update: false })
  @Generated('increment')
  number!: number;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  /** Absolute path of the executable; run directly, never through a shell. */
  @Column({ type: 'text' })
  command!: string;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  args!: TemplateInput[];

  @Column({ type: 'text', nullable: true })
  cwd!: string | null;

  /** Names the process may receive: from the hub's environment, or set by a rule. */
  @Column({ name: 'env_allow', type: 'text', array: true, default: () => "'{}'" })
  envAllow!: string[];

  /** Fixed env values by name, each sealed with the master key (`envSealed`): never in clear at rest. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  env!: Record<string, string>;

  /** False only on rows written before values were sealed; the hub seals them at boot. */
  @Column({ name: 'env_sealed', type: 'boolean', default: true })
  envSealed!: boolean;

  @Column({ name: 'timeout_seconds', type: 'int', default: 600 })
  timeoutSeconds!: number;

  @Column({ name: 'output_cap_bytes', type: 'int', default: 262144 })
  outputCapBytes!: number;

  @Column({ name: 'concurrency_limit', type: 'int', nullable: true })
  concurrencyLimit!: number | null;

  /** Template of the key under which runs never overlap, e.g. `{{body.repository.full_name}}:{{body.ref}}`. */
  @Column({ name: 'concurrency_key', type: 'text', nullable: true })
  concurrencyKey!: string | null;

  @Column({ name: 'concurrency_policy', type: 'text', default: 'queue' })
  concurrencyPolicy!: ConcurrencyPolicy;

  /** The task queue its runs go to: only workers that take it (HOOKHUB_WORKER_QUEUES) run them. */
  @Column({ type: 'text', default: 'default' })
  queue!: string;

  @Column({ name: 'retry_max', type: 'int', default: 0 })
  retryMax!: number;

  @Column({ name: 'retry_backoff_seconds', type: 'int', default: 30 })
  retryBackoffSeconds!: number;

  @Column({ name: 'manual_run', type: 'boolean', default: true })
  manualRun!: boolean;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
