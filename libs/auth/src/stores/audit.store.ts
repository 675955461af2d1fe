import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, QueryDeepPartialEntity, Repository } from 'typeorm';
import { type Page, createdBetween, paginate } from '@hookhub/core';
import type { AuditQueryDto } from '../dto/audit.dto';
import { AuditEntry } from '../entities/audit-entry.entity';

/** The columns an entry is written with; id and created_at are the table's. */
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'createdAt'>;

/** `audit_log`: entries are appended, then listed with filters. */
@Injectable()
export class AuditStore {
  constructor(@InjectRepository(AuditEntry) private readonly entries: Repository<AuditEntry>) {}

  /** Appends an entry, in `manager`'s transaction if given (so it commits or rolls back with the change). */
  async insert(entry: NewAuditEntry, manager?: EntityManager): Promise<void> {
    // TypeORM's insert type wants every value inside a JSON column to be an object; jsonb takes any JSON value.
    const details = entry.details as QueryDeepPartialEntity<AuditEntry>['details'];
    await (manager ? manager.getRepository(AuditEntry) : this.entries).insert({ ...entry, details });
  }

  /** A page of entries, newest first, filtered by actor, action, target, outcome and time. */
  list<R>(query: AuditQueryDto, map: (entry: AuditEntry) => R): Promise<Page<R>> {
    const qb = this.entries.createQueryBuilder('a');
    if (query.actor_id) qb.andWhere('a.actor_id = :actorId', { actorId: query.actor_id });
    if (query.action) qb.andWhere('a.action = :action', { action: query.action });
    if (query.target_type) qb.andWhere('a.target_type = :targetType', { targetType: query.target_type });
    if (query.target_id) qb.andWhere('a.target_id = :targetId', { targetId: query.target_id });
    if (query.outcome) qb.andWhere('a.outcome = :outcome', { outcome: query.outcome });
    return paginate(createdBetween(qb, 'a', query), 'a', query, map);
  }
}
