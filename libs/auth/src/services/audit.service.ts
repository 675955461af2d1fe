import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import { type Page, createdBetween, paginate } from '@hookhub/core';
import { AuditEntry } from '../entities/audit-entry.entity';
import type { AuditEntryDto, AuditQueryDto } from '../dto/audit.dto';
import type { Principal } from '../roles';

/** Where a change came from. */
export interface RequestOrigin {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

export interface AuditRecord {
  actor: Principal | null | 'system';
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  outcome?: 'success' | 'failure';
  details?: Record<string, unknown>;
  origin?: RequestOrigin;
  /** Actor name when there is no principal (e.g. the username of a failed login). */
  actorName?: string;
}

const SECRET_KEY = /pass(word)?|secret|token|^key$|api_?key|authorization|cookie|signature|credential/i;
/** Maps whose values are secrets whatever their names: webhook custom headers, program env values. */
const SECRET_VALUES = new Set(['headers', 'env']);

/** Removes secret-looking fields, at any depth, before anything is written to the audit log. */
export function redactDetails(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[truncated]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redactDetails(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(k)) out[k] = '[redacted]';
      else if (SECRET_VALUES.has(k) && v && typeof v === 'object' && !Array.isArray(v)) out[k] = Object.fromEntries(Object.keys(v).slice(0, 50).map((name) => [name, '[redacted]']));
      else out[k] = redactDetails(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 2000) return `${value.slice(0, 2000)}...`;
  return value;
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

/** The audit log: who changed what, when and from where. */
@Injectable()
export class AuditService {
  private readonly entries: Repository<AuditEntry>;

  constructor(dataSource: DataSource) {
    this.entries = dataSource.getRepository(AuditEntry);
  }

  async record(record: AuditRecord, manager?: EntityManager): Promise<void> {
    const repo = manager ? manager.getRepository(AuditEntry) : this.entries;
    const actor = record.actor;
    await repo.insert({
      actorType: actor === 'system' ? 'system' : actor === null ? 'anonymous' : actor.type,
      actorId: actor && actor !== 'system' ? actor.userId : null,
      actorName: actor && actor !== 'system' ? actor.username : actor === 'system' ? 'system' : (record.actorName ?? null),
      action: record.action,
      targetType: record.targetType ?? null,
      targetId: record.targetId ?? null,
      outcome: record.outcome ?? 'success',
      details: {
        ...((redactDetails(record.details ?? {}) as Record<string, unknown>) ?? {}),
        ...(actor && actor !== 'system' && actor.apiKeyId ? { api_key_id: actor.apiKeyId } : {}),
      },
      ip: record.origin?.ip ?? null,
      userAgent: record.origin?.userAgent?.slice(0, 500) ?? null,
      requestId: record.origin?.requestId ?? null,
    });
  }

  async list(query: AuditQueryDto): Promise<Page<AuditEntryDto>> {
    const qb = this.entries.createQueryBuilder('a');
    if (query.actor_id) qb.andWhere('a.actor_id = :actorId', { actorId: query.actor_id });
    if (query.action) qb.andWhere('a.action = :action', { action: query.action });
    if (query.target_type) qb.andWhere('a.target_type = :targetType', { targetType: query.target_type });
    if (query.target_id) qb.andWhere('a.target_id = :targetId', { targetId: query.target_id });
    if (query.outcome) qb.andWhere('a.outcome = :outcome', { outcome: query.outcome });
    return paginate(createdBetween(qb, 'a', query), 'a', query, toAuditEntryDto);
  }
}
