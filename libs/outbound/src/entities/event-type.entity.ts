import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A kind of event webhooks can ask for, with an optional JSON Schema for its payload. */
@Entity({ name: 'event_types' })
export class EventType {
  @PrimaryColumn('uuid') id!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'jsonb', nullable: true }) schema!: object | null;
  @Column({ type: 'boolean', default: false }) archived!: boolean;
  /** Registered by Hookhub itself (task.*, webhook.*); cannot be deleted. */
  @Column({ type: 'boolean', default: false }) builtin!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 }) updatedAt!: Date;
}
