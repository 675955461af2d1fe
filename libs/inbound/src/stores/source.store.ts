import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { type Page, containsPattern, paginate } from '@hookhub/core';
import type { ListSourcesQueryDto } from '../dto/sources.dto';
import { Source } from '../entities/source.entity';

/** `sources`: the inbound endpoints, by id or slug. */
@Injectable()
export class SourceStore {
  constructor(@InjectRepository(Source) private readonly sources: Repository<Source>) {}

  async insert(source: Source): Promise<void> {
    await this.sources.insert(this.sources.create(source));
  }

  async update(id: string, columns: Partial<Source>): Promise<void> {
    await this.sources.update({ id }, columns);
  }

  async delete(id: string): Promise<void> {
    await this.sources.delete({ id });
  }

  findById(id: string): Promise<Source | null> {
    return this.sources.findOneBy({ id });
  }

  /** The row of `id`, which must exist (just written). */
  getById(id: string): Promise<Source> {
    return this.sources.findOneByOrFail({ id });
  }

  findBySlug(slug: string): Promise<Source | null> {
    return this.sources.findOneBy({ slug });
  }

  /** A page of sources, newest first, optionally those whose slug or name contains `q`. */
  list<R>(query: ListSourcesQueryDto, map: (source: Source) => R): Promise<Page<R>> {
    const qb = this.sources.createQueryBuilder('s');
    if (query.q) qb.andWhere('(s.slug ILIKE :q OR s.name ILIKE :q)', { q: containsPattern(query.q) });
    return paginate(qb, 's', query, map);
  }

  /** The slug and aliases of every source that has aliases. */
  async aliases(): Promise<Array<{ slug: string; aliases: string[] }>> {
    return this.sources
      .createQueryBuilder('s')
      .select(['s.slug', 's.aliases'])
      .where('cardinality(s.aliases) > 0')
      .getMany();
  }

  /** Sources other than `exceptId` that hold any of `paths` as an alias. */
  holdingAliases(paths: string[], exceptId: string | null): Promise<Source[]> {
    const qb = this.sources.createQueryBuilder('s').where('s.aliases && :paths::text[]', { paths });
    if (exceptId) qb.andWhere('s.id <> :exceptId', { exceptId });
    return qb.getMany();
  }

  /** Every source, by slug. */
  listAll(): Promise<Source[]> {
    return this.sources.find({ order: { slug: 'ASC' } });
  }
}
