import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { type Page, containsPattern, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { ListProgramsQueryDto } from '../dto/programs.dto';
import { Program } from '../entities/program.entity';

/** `programs`: the allow-list of executables, by id, name or number, and the env sealing of old rows. */
@Injectable()
export class ProgramStore {
  constructor(
    @InjectRepository(Program) private readonly programs: Repository<Program>,
    private readonly db: Db,
  ) {}

  async insert(program: Program): Promise<void> {
    await this.programs.insert(this.programs.create(program));
  }

  async update(id: string, columns: Partial<Program>): Promise<void> {
    await this.programs.update({ id }, columns);
  }

  async delete(id: string): Promise<void> {
    await this.programs.delete({ id });
  }

  findById(id: string): Promise<Program | null> {
    return this.programs.findOneBy({ id });
  }

  /** The row of `id`, which must exist (just written). */
  getById(id: string): Promise<Program> {
    return this.programs.findOneByOrFail({ id });
  }

  /** The programs of `ids` that exist, in no particular order. */
  async findByIds(ids: readonly string[]): Promise<Program[]> {
    if (!ids.length) return [];
    return this.programs.createQueryBuilder('p').where('p.id IN (:...ids)', { ids }).getMany();
  }

  /** Names are unique whatever their case. */
  findByName(name: string): Promise<Program | null> {
    return this.programs.createQueryBuilder('p').where('lower(p.name) = lower(:name)', { name }).getOne();
  }

  findByNumber(number: number): Promise<Program | null> {
    return this.programs.findOneBy({ number });
  }

  /** A page of programs, newest first, optionally those whose name contains `q`. */
  list<R>(query: ListProgramsQueryDto, map: (program: Program) => R): Promise<Page<R>> {
    const qb = this.programs.createQueryBuilder('p');
    if (query.q) qb.andWhere('p.name ILIKE :q', { q: containsPattern(query.q) });
    return paginate(qb, 'p', query, map);
  }

  /** Every program, by name. */
  listAll(): Promise<Program[]> {
    return this.programs.find({ order: { name: 'ASC' } });
  }

  /** Locks the rows whose env values are still in clear (written by an earlier version), in `manager`'s transaction. */
  lockUnsealed(manager: EntityManager): Promise<Array<{ id: string; env: Record<string, string> }>> {
    return this.db.rows(`SELECT id, env FROM programs WHERE NOT env_sealed FOR UPDATE SKIP LOCKED`, [], manager);
  }

  /** Stores a program's sealed env values. */
  async setSealedEnv(id: string, env: Record<string, string>, manager?: EntityManager): Promise<void> {
    await this.db.exec(
      `UPDATE programs SET env = $2, env_sealed = true, updated_at = now() WHERE id = $1`,
      [id, JSON.stringify(env)],
      manager,
    );
  }
}
