import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A published event. `body` is the exact JSON sent to webhooks (in the compact body format). */
@Entity({ name: 'events' })
export class OutboundEvent {
  @PrimaryColumn('uuid') id!: string;
  @Column({ type: 'text' }) type!: string;
  @Column({ type: 'text' }) body!: string;
  @Column({ type: 'int' }) bytes!: number;
  @Column({ name: 'occurred_at', type: 'timestamptz', precision: 3 }) occurredAt!: Date;
  @Column({ name: 'idempotency_key', type: 'text', nullable: true }) idempotencyKey!: string | null;
  @Column({ name: 'published_by', type: 'text', nullable: true }) publishedBy!: string | null;
  @Column({ name: 'delivery_count', type: 'int', default: 0 }) deliveryCount!: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
}
