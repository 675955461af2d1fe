import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { DeliveryTrigger } from './delivery.entity';

/** One HTTP request of a delivery and what came back: the webhook logs, and what the stats count. */
@Entity({ name: 'delivery_attempts' })
export class DeliveryAttempt {
  @PrimaryColumn('uuid') id!: string;
  @Column({ name: 'delivery_id', type: 'uuid' }) deliveryId!: string;
  @Column({ name: 'event_id', type: 'uuid' }) eventId!: string;
  @Column({ name: 'webhook_id', type: 'uuid' }) webhookId!: string;
  @Column({ name: 'event_type', type: 'text' }) eventType!: string;
  @Column({ type: 'int' }) attempt!: number;
  @Column({ type: 'text' }) trigger!: DeliveryTrigger;
  @Column({ type: 'text' }) url!: string;
  /** Without the signature values. */
  @Column({ name: 'request_headers', type: 'jsonb' }) requestHeaders!: Record<string, string>;
  @Column({ name: 'status_code', type: 'int', nullable: true }) statusCode!: number | null;
  @Column({ type: 'boolean' }) success!: boolean;
  @Column({ name: 'response_headers', type: 'jsonb' }) responseHeaders!: Record<string, string>;
  @Column({ name: 'response_body', type: 'text' }) responseBody!: string;
  @Column({ name: 'response_truncated', type: 'boolean' }) responseTruncated!: boolean;
  @Column({ name: 'duration_ms', type: 'int' }) durationMs!: number;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column({ name: 'error_kind', type: 'text', nullable: true }) errorKind!: string | null;
  @Column({ name: 'next_attempt_at', type: 'timestamptz', precision: 3, nullable: true }) nextAttemptAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
}
