import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { SignatureFormat, SignOptions } from '../signing/signing';

/** One signing secret, sealed with the master key; `expires_at` is set on the old one during a rotation. */
export interface SealedSecret {
  sealed: string;
  created_at: string;
  expires_at: string | null;
}

/** `compact`: JSON as published. `sorted`: keys sorted with Python's `json.dumps(sort_keys=True)` spacing. */
export type BodyFormat = 'compact' | 'sorted';

/** A URL subscribed to event types, with how deliveries to it are signed, limited and retried. */
@Entity({ name: 'webhooks' })
export class Webhook {
  @PrimaryColumn('uuid') id!: string;
  @Column({ type: 'text', default: '' }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'text' }) url!: string;
  @Column({ name: 'event_filters', type: 'text', array: true }) eventFilters!: string[];
  @Column({ name: 'payload_filter', type: 'jsonb', nullable: true }) payloadFilter!: object | boolean | null;
  /** Custom header values by name, each sealed with the master key (`headersSealed`), so never in clear at rest. */
  @Column({ type: 'jsonb', default: () => "'{}'" }) headers!: Record<string, string>;
  /** False only on rows written before values were sealed; the hub seals them at boot. */
  @Column({ name: 'headers_sealed', type: 'boolean', default: true }) headersSealed!: boolean;
  @Column({ name: 'timeout_ms', type: 'int', default: 15000 }) timeoutMs!: number;
  @Column({ name: 'retry_schedule', type: 'real', array: true, nullable: true }) retrySchedule!: number[] | null;
  @Column({ name: 'max_in_flight', type: 'int', nullable: true }) maxInFlight!: number | null;
  @Column({ name: 'max_per_second', type: 'int', nullable: true }) maxPerSecond!: number | null;
  @Column({ name: 'signature_format', type: 'text', default: 'standard-webhooks' }) signatureFormat!: SignatureFormat;
  @Column({ name: 'signature_options', type: 'jsonb', default: () => "'{}'" }) signatureOptions!: SignOptions;
  @Column({ name: 'body_format', type: 'text', default: 'compact' }) bodyFormat!: BodyFormat;
  @Column({ type: 'jsonb', default: () => "'[]'" }) secrets!: SealedSecret[];
  @Column({ type: 'boolean', default: true }) enabled!: boolean;
  @Column({ name: 'disabled_reason', type: 'text', nullable: true }) disabledReason!: string | null;
  @Column({ name: 'disabled_at', type: 'timestamptz', precision: 3, nullable: true }) disabledAt!: Date | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ name: 'last_error_at', type: 'timestamptz', precision: 3, nullable: true }) lastErrorAt!: Date | null;
  @Column({ name: 'last_success_at', type: 'timestamptz', precision: 3, nullable: true }) lastSuccessAt!: Date | null;
  @Column({ name: 'failing_since', type: 'timestamptz', precision: 3, nullable: true }) failingSince!: Date | null;
  @Column({ name: 'created_by', type: 'text', nullable: true }) createdBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 }) updatedAt!: Date;
}
