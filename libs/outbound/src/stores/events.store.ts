import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { type Page, createdBetween, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { ListEventsQueryDto } from '../dto/events.dto';
import { OutboundEvent } from '../entities/event.entity';

/**
 * The `events` table: reads and retention. The only code with SQL for it but one: an event is inserted with
 * its deliveries in one statement, by the fan-out of `DeliveryStore`.
 */
@Injectable()
export class EventStore {
  constructor(
    @InjectRepository(OutboundEvent) private readonly events: Repository<OutboundEvent>,
    private readonly db: Db,
  ) {}

  findById(id: string): Promise<OutboundEvent | null> {
    return this.events.findOneBy({ id });
  }

  /** A page of events, newest first, filtered by type (any case) and creation time. */
  page<R>(query: ListEventsQueryDto, map: (e: OutboundEvent) => R): Promise<Page<R>> {
    const qb = this.events.createQueryBuilder('e');
    if (query.type) qb.andWhere('lower(e.type) = lower(:type)', { type: query.type });
    return paginate(createdBetween(qb, 'e', query), 'e', query, map);
  }

  /**
   * Deletes up to `limit` of the oldest events created before `cutoff` that have no delivery queued or in
   * flight (their deliveries go with them); how many.
   */
  deleteSettledOlderThan(cutoff: Date, limit: number): Promise<number> {
    return this.db.exec(
      `DELETE FROM events WHERE id IN (
         SELECT e.id FROM events e WHERE e.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('queued', 'running'))
         ORDER BY e.created_at LIMIT $2)`,
      [cutoff, limit],
    );
  }
}
