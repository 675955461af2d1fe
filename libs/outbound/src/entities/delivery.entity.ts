import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type DeliveryStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
/** Why the next (or last) attempt was made: published, a test, a manual resend, a bulk recover. */
export type DeliveryTrigger = 'auto' | 'test' | 'manual' | 'recover';

/** One event to one webhook: a row of the delivery queue. */
@Entity({ name: 'deliveries' })
export class Delivery {
  @PrimaryColumn('uuid') id!: string;
  @Column({ name: 'event_id', type: 'uuid' }) eventId!: string;
  @Column({ name: 'webhook_id', type: 'uuid' }) webhookId!: string;
  @Column({ name: 'event_type', type: 'text' }) eventType!: string;
  @Column({ type: 'text', default: 'queued' }) status!: DeliveryStatus;
  @Column({ type: 'text', default: 'auto' }) trigger!: DeliveryTrigger;
  @Column({ name: 'run_at', type: 'timestamptz', precision: 3 }) runAt!: Date;
  @Column({ type: 'int', default: 0 }) attempts!: number;
  /** Attempts made before the last resend or recover; the retry schedule counts from here. */
  @Column({ name: 'retry_base', type: 'int', default: 0 }) retryBase!: number;
  @Column({ name: 'locked_by', type: 'text', nullable: true }) lockedBy!: string | null;
  @Column({ name: 'locked_until', type: 'timestamptz', precision: 3, nullable: true }) lockedUntil!: Date | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ name: 'last_status', type: 'int', nullable: true }) lastStatus!: number | null;
  @Column({ name: 'finished_at', type: 'timestamptz', precision: 3, nullable: true }) finishedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 }) updatedAt!: Date;
}
