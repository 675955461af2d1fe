import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { IsTimestamp, PageOf, PageQueryDto } from '@hookhub/core';
import type { AuditEntry } from '../entities/audit-entry.entity';

export class AuditQueryDto extends PageQueryDto {
  /** Only entries by this user. */
  @IsOptional()
  @IsUUID()
  actor_id?: string;

  /** Only this action, e.g. `user.create`. @example "user.create" */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  /** @example "user" */
  @IsOptional()
  @IsString()
  @MaxLength(50)
  target_type?: string;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  target_id?: string;

  @ApiPropertyOptional({ enum: ['success', 'failure'] })
  @IsOptional()
  @IsIn(['success', 'failure'])
  outcome?: 'success' | 'failure';

  /** Entries at or after this instant (ISO 8601). @example "2026-11-01T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** Entries before this instant (ISO 8601). @example "2026-12-01T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class AuditEntryDto {
  id!: string;

  @ApiProperty({ enum: ['user', 'api_key', 'system', 'anonymous'] })
  actor_type!: string;

  @ApiPropertyOptional({ type: String, nullable: true })
  actor_id!: string | null;

  /** @example "admin" */
  @ApiPropertyOptional({ type: String, nullable: true })
  actor_name!: string | null;

  /** @example "user.create" */
  action!: string;

  /** @example "user" */
  @ApiPropertyOptional({ type: String, nullable: true })
  target_type!: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  target_id!: string | null;

  @ApiProperty({ enum: ['success', 'failure'] })
  outcome!: string;

  /** What changed; secrets and passwords are never recorded. @example {"username":"ops-alice","role":"operator"} */
  details!: Record<string, unknown>;

  /** @example "203.0.113.7" */
  @ApiPropertyOptional({ type: String, nullable: true })
  ip!: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  user_agent!: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  request_id!: string | null;

  /** @example "2026-11-23T12:00:00.000Z" */
  created_at!: string;
}

export function toAuditEntryDto(e: AuditEntry): AuditEntryDto {
  return {
    id: e.id,
    actor_type: e.actorType,
    actor_id: e.actorId,
    actor_name: e.actorName,
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId,
    outcome: e.outcome,
    details: e.details,
    ip: e.ip,
    user_agent: e.userAgent,
    request_id: e.requestId,
    created_at: e.createdAt.toISOString(),
  };
}

export class AuditPageDto extends PageOf(AuditEntryDto) {}
