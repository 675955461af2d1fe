import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { DeepPartial, Repository } from 'typeorm';
import { Db } from '@hookhub/store';
import { Rule } from '../entities/rule.entity';

/** `rules`: each source's ordered rules. */
@Injectable()
export class RuleStore {
  constructor(
    @InjectRepository(Rule) private readonly rules: Repository<Rule>,
    private readonly db: Db,
  ) {}

  /** Inserts a rule and returns it as stored (with its id and times). */
  insert(rule: DeepPartial<Rule>): Promise<Rule> {
    return this.rules.save(this.rules.create(rule));
  }

  /** Writes a changed rule back; returns it as stored. */
  save(rule: Rule): Promise<Rule> {
    return this.rules.save(rule);
  }

  async delete(id: string): Promise<void> {
    await this.rules.delete({ id });
  }

  /** The rule `id` of source `sourceId`, or null (a rule of another source is not found). */
  findInSource(id: string, sourceId: string): Promise<Rule | null> {
    return this.rules.findOneBy({ id, sourceId });
  }

  /** A source's rules in the order they are tried. */
  listBySource(sourceId: string): Promise<Rule[]> {
    return this.rules.find({ where: { sourceId }, order: { position: 'ASC', createdAt: 'ASC' } });
  }

  /** Every rule, in the order they are tried within their source. */
  listAll(): Promise<Rule[]> {
    return this.rules.find({ order: { position: 'ASC', createdAt: 'ASC' } });
  }

  /** The position after the last rule of a source (0 for the first). */
  async nextPosition(sourceId: string): Promise<number> {
    const row = await this.db.one<{ max: number }>(
      `SELECT coalesce(max(position), -1)::int AS max FROM rules WHERE source_id = $1`,
      [sourceId],
    );
    return (row?.max ?? -1) + 1;
  }

  /** How many rules run a program. */
  async countUsingProgram(programId: string): Promise<number> {
    const row = await this.db.one<{ count: number }>(`SELECT count(*)::int AS count FROM rules WHERE program_id = $1`, [
      programId,
    ]);
    return row?.count ?? 0;
  }
}
