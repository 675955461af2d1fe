import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { VerificationOptions, VerificationScheme } from '../verifiers';

export type ResponseMode = 'async' | 'sync';
export type MatchMode = 'first' | 'all';
export type Dispatch = 'rules' | 'by_id';
/** What makes a request a duplicate: its delivery id (header, body field or scheme), or its body's digest. */
export type DedupMode = 'delivery_id' | 'body';
/** How errors are worded: Hookhub's body (`code`, `message`, ...), or `{"error": "<message>"}`. */
export type ErrorStyle = 'hookhub' | 'simple';

/**
 * How a source answers, for senders that expect another hub's answers (all optional; Hookhub's answers
 * otherwise). Bodies are templates: a JSON value whose strings may hold `{{path}}` placeholders, or a text.
 */
/** A JSON value whose strings may hold `{{path}}` placeholders, or a text. */
export type AnswerTemplate = object | string;

export interface SourceAnswer {
  /** A trigger that started runs (and, for a sync source, whose runs succeeded). */
  status?: number;
  body?: AnswerTemplate;
  /** A sync source's run that did not succeed. */
  failed_status?: number;
  failed_body?: AnswerTemplate;
  /** A verified trigger that no rule matched. */
  unmatched_status?: number;
  unmatched_body?: AnswerTemplate;
  errors?: ErrorStyle;
  /** `simple` errors: a message per error code, over the built-in ones. */
  error_messages?: Record<string, string>;
}

/** Where triggers come from, how they are verified and guarded, and how they are answered. */
@Entity({ name: 'sources' })
export class Source {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'text' }) slug!: string;
  @Column({ type: 'text', default: '' }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'boolean', default: true }) enabled!: boolean;
  @Column({ type: 'text' }) scheme!: VerificationScheme;
  @Column({ type: 'jsonb', default: () => "'{}'" }) verification!: VerificationOptions;
  /** Sealed with the master key, bound to this source's id. */
  @Column({ type: 'text', array: true, default: () => "'{}'" }) secrets!: string[];
  @Column({ name: 'ip_allow', type: 'text', array: true, default: () => "'{}'" }) ipAllow!: string[];
  @Column({ name: 'rate_limit', type: 'int', default: 100 }) rateLimit!: number;
  @Column({ name: 'body_limit', type: 'int', default: 1048576 }) bodyLimit!: number;
  @Column({ type: 'text', array: true, default: () => "'{POST}'" }) methods!: string[];
  @Column({ name: 'content_types', type: 'text', array: true, default: () => "'{application/json}'" })
  contentTypes!: string[];
  @Column({ name: 'replay_window_seconds', type: 'int', default: 300 }) replayWindowSeconds!: number;
  @Column({ name: 'dedup_window_seconds', type: 'int', default: 86400 }) dedupWindowSeconds!: number;
  @Column({ type: 'text', default: 'delivery_id' }) dedup!: DedupMode;
  @Column({ name: 'dedup_header', type: 'text', nullable: true }) dedupHeader!: string | null;
  @Column({ name: 'dedup_field', type: 'text', nullable: true }) dedupField!: string | null;
  @Column({ name: 'event_header', type: 'text', nullable: true }) eventHeader!: string | null;
  @Column({ name: 'event_field', type: 'text', nullable: true }) eventField!: string | null;
  @Column({ name: 'response_mode', type: 'text', default: 'async' }) responseMode!: ResponseMode;
  @Column({ name: 'sync_timeout_seconds', type: 'int', default: 30 }) syncTimeoutSeconds!: number;
  @Column({ name: 'match_mode', type: 'text', default: 'first' }) matchMode!: MatchMode;
  @Column({ type: 'text', default: 'rules' }) dispatch!: Dispatch;
  @Column({ name: 'id_field', type: 'text', default: 'task_id' }) idField!: string;
  @Column({ name: 'by_id_programs', type: 'uuid', array: true, default: () => "'{}'" }) byIdPrograms!: string[];
  /** Extra exact paths that reach this source besides `/hooks/{slug}` (e.g. `/backup`). */
  @Column({ type: 'text', array: true, default: () => "'{}'" }) aliases!: string[];
  @Column({ type: 'jsonb', nullable: true }) answer!: SourceAnswer | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 }) updatedAt!: Date;
}
