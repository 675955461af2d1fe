import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Page } from '@hookhub/core';
import { type AuditEntryDto, type AuditQueryDto, toAuditEntryDto } from '../dto/audit.dto';
import type { Principal } from '../roles';
import { AuditStore, type NewAuditEntry } from '../stores/audit.store';
import { redactDetails } from '../audit/redaction';

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

/** The audit log: who changed what, when and from where. */
@Injectable()
export class AuditService {
  constructor(private readonly entries: AuditStore) {}

  async record(record: AuditRecord, manager?: EntityManager): Promise<void> {
    const actor = record.actor;
    const entry: NewAuditEntry = {
      actorType: actor === 'system' ? 'system' : actor === null ? 'anonymous' : actor.type,
      actorId: actor && actor !== 'system' ? actor.userId : null,
      actorName:
        actor && actor !== 'system' ? actor.username : actor === 'system' ? 'system' : (record.actorName ?? null),
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
    };
    await this.entries.insert(entry, manager);
  }

  async list(query: AuditQueryDto): Promise<Page<AuditEntryDto>> {
    return this.entries.list(query, toAuditEntryDto);
  }
}
