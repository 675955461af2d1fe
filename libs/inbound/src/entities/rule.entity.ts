import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { Condition, TemplateInput } from '@hookhub/core';

/** Per source, in order: when `condition` matches a trigger, run `program` with these templates. */
@Entity({ name: 'rules' })
export class Rule {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'source_id', type: 'uuid' }) sourceId!: string;
  @Column({ type: 'int', default: 0 }) position!: number;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'jsonb', default: () => "'true'" }) condition!: Condition;
  @Column({ name: 'program_id', type: 'uuid' }) programId!: string;
  @Column({ type: 'jsonb', default: () => "'[]'" }) args!: TemplateInput[];
  @Column({ type: 'jsonb', default: () => "'{}'" }) env!: Record<string, TemplateInput>;
  @Column({ type: 'boolean', default: true }) enabled!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 }) updatedAt!: Date;
}
