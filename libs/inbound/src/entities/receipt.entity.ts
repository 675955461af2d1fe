import { Column, Entity, PrimaryColumn } from 'typeorm';

export const VERDICTS = ['accepted', 'unmatched', 'duplicate', 'rejected'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface MatchedRule {
  rule_id: string | null;
  rule_name: string;
  program_id: string;
  program_name: string;
}

/** Every inbound request, accepted or not. */
@Entity({ name: 'receipts' })
export class Receipt {
  @PrimaryColumn('uuid') id!: string;
  @Column({ name: 'source_id', type: 'uuid', nullable: true }) sourceId!: string | null;
  @Column({ type: 'text' }) slug!: string;
  @Column({ name: 'delivery_id', type: 'text', nullable: true }) deliveryId!: string | null;
  @Column({ type: 'text' }) method!: string;
  @Column({ type: 'text', nullable: true }) ip!: string | null;
  @Column({ type: 'text', nullable: true }) event!: string | null;
  @Column({ type: 'text' }) verdict!: Verdict;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ name: 'status_code', type: 'int' }) statusCode!: number;
  @Column({ type: 'jsonb' }) headers!: Record<string, string>;
  @Column({ type: 'text', nullable: true }) body!: string | null;
  @Column({ name: 'body_bytes', type: 'int' }) bodyBytes!: number;
  @Column({ name: 'body_truncated', type: 'boolean' }) bodyTruncated!: boolean;
  @Column({ name: 'matched_rules', type: 'jsonb' }) matchedRules!: MatchedRule[];
  @Column({ name: 'task_ids', type: 'uuid', array: true }) taskIds!: string[];
  @Column({ name: 'duplicate_of', type: 'uuid', nullable: true }) duplicateOf!: string | null;
  @Column({ name: 'duration_ms', type: 'real' }) durationMs!: number;
  @Column({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
}
