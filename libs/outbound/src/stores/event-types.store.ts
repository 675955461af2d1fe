import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { type Page, containsPattern, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { ListEventTypesQueryDto } from '../dto/events.dto';
import { EventType } from '../entities/event-type.entity';

/** The `event_types` table: CRUD, lookups by name (any case), and the built-in types. The only code with SQL for it. */
@Injectable()
export class EventTypeStore {
  constructor(
    @InjectRepository(EventType) private readonly types: Repository<EventType>,
    private readonly db: Db,
  ) {}

  /** Registers `types` as built in; a type of the same name (any case) that exists already is marked built in. */
  async registerBuiltins(types: ReadonlyArray<{ name: string; description: string }>): Promise<void> {
    await this.db.exec(
      `INSERT INTO event_types (name, description, builtin)
       SELECT name, description, true FROM jsonb_to_recordset($1::jsonb) AS t(name text, description text)
       ON CONFLICT ((lower(name))) DO UPDATE SET builtin = true`,
      [JSON.stringify(types)],
    );
  }

  async insert(values: Pick<EventType, 'id' | 'name' | 'description' | 'schema'>): Promise<void> {
    await this.types.insert(this.types.create(values));
  }

  async update(id: string, changes: Partial<EventType>): Promise<void> {
    await this.types.update({ id }, changes);
  }

  async delete(id: string): Promise<void> {
    await this.types.delete({ id });
  }

  findById(id: string): Promise<EventType | null> {
    return this.types.findOneBy({ id });
  }

  /** The type whose lower-cased name is `lowerName`. */
  findByLowerName(lowerName: string): Promise<EventType | null> {
    return this.types.createQueryBuilder('t').where('lower(t.name) = :key', { key: lowerName }).getOne();
  }

  /** Whether a type has this name, in any case. */
  nameTaken(name: string): Promise<boolean> {
    return this.types.createQueryBuilder('t').where('lower(t.name) = lower(:name)', { name }).getExists();
  }

  /** A page of types, newest first: without the archived ones unless asked, matching `q` in name or description. */
  page<R>(query: ListEventTypesQueryDto, map: (t: EventType) => R): Promise<Page<R>> {
    const qb = this.types.createQueryBuilder('t');
    if (!query.include_archived) qb.andWhere('t.archived = false');
    if (query.q) qb.andWhere('(t.name ILIKE :q OR t.description ILIKE :q)', { q: containsPattern(query.q) });
    return paginate(qb, 't', query, map);
  }
}
