import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { type Page, containsPattern, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { ListUsersQueryDto } from '../dto/users.dto';
import { User } from '../entities/user.entity';

/** The columns a new user is created with; the rest are the table's defaults. */
export type NewUser = Pick<User, 'username' | 'passwordHash' | 'role' | 'disabled' | 'passwordChangedAt'>;

/** `users`: accounts by id or username (whatever its case), their passwords, logins and the admins' lock. */
@Injectable()
export class UserStore {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly db: Db,
  ) {}

  /** Inserts a user and answers the stored row (id and time stamps filled in). */
  insert(user: NewUser): Promise<User> {
    return this.users.save(this.users.create(user));
  }

  /** Writes a loaded user's changed fields back, in `manager`'s transaction if given. */
  save(user: User, manager?: EntityManager): Promise<User> {
    return this.repo(manager).save(user);
  }

  async delete(id: string, manager?: EntityManager): Promise<void> {
    await this.repo(manager).delete({ id });
  }

  findById(id: string, manager?: EntityManager): Promise<User | null> {
    return this.repo(manager).findOne({ where: { id } });
  }

  /** Usernames are unique whatever their case. */
  findByUsername(username: string): Promise<User | null> {
    return this.users.createQueryBuilder('u').where('lower(u.username) = lower(:username)', { username }).getOne();
  }

  count(): Promise<number> {
    return this.users.count();
  }

  /** A page of users, newest first, optionally of one role or whose username contains `q`. */
  list<R>(query: ListUsersQueryDto, map: (user: User) => R): Promise<Page<R>> {
    const qb = this.users.createQueryBuilder('u');
    if (query.role) qb.andWhere('u.role = :role', { role: query.role });
    if (query.q) qb.andWhere('u.username ILIKE :q', { q: containsPattern(query.q) });
    return paginate(qb, 'u', query, map);
  }

  async setLastLogin(id: string, at: Date): Promise<void> {
    await this.users.update({ id }, { lastLoginAt: at });
  }

  /** A new password hash; `changedAt` ends the tokens issued before it. */
  async setPassword(id: string, passwordHash: string, changedAt: Date): Promise<void> {
    await this.users.update({ id }, { passwordHash, passwordChangedAt: changedAt });
  }

  /**
   * The enabled admins, locked (FOR UPDATE) in `manager`'s transaction, so two concurrent demotions cannot both
   * see another admin left.
   */
  lockEnabledAdmins(manager: EntityManager): Promise<Array<{ id: string }>> {
    return this.db.rows(`SELECT id FROM users WHERE role = 'admin' AND NOT disabled FOR UPDATE`, [], manager);
  }

  private repo(manager?: EntityManager): Repository<User> {
    return manager ? manager.getRepository(User) : this.users;
  }
}
