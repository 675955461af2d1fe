import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import { Clock, HookhubError, type Page, containsPattern, isUuid, paginate } from '@hookhub/core';
import { User } from '../entities/user.entity';
import type { CreateUserDto, ListUsersQueryDto, SetPasswordDto, UpdateUserDto, UserDto } from '../dto/users.dto';
import type { ChangeOwnPasswordDto } from '../dto/auth.dto';
import { Role, type Principal } from '../roles';
import { PasswordHasher } from './password-hasher';

export function toUserDto(u: User): UserDto {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    disabled: u.disabled,
    last_login_at: u.lastLoginAt ? u.lastLoginAt.toISOString() : null,
    created_at: u.createdAt.toISOString(),
    updated_at: u.updatedAt.toISOString(),
  };
}

export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/** Users and their passwords. Keeps at least one enabled admin at all times. */
@Injectable()
export class UsersService {
  private readonly users: Repository<User>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
  ) {
    this.users = dataSource.getRepository(User);
  }

  async list(query: ListUsersQueryDto): Promise<Page<UserDto>> {
    const qb = this.users.createQueryBuilder('u');
    if (query.role) qb.andWhere('u.role = :role', { role: query.role });
    if (query.q) qb.andWhere('u.username ILIKE :q', { q: containsPattern(query.q) });
    return paginate(qb, 'u', query, toUserDto);
  }

  async get(id: string): Promise<UserDto> {
    return toUserDto(await this.find(id));
  }

  async find(id: string, manager?: EntityManager): Promise<User> {
    const user = isUuid(id) ? await (manager?.getRepository(User) ?? this.users).findOne({ where: { id } }) : null;
    if (!user) throw HookhubError.notFound('User', id);
    return user;
  }

  async findByUsername(username: string): Promise<User | null> {
    return this.users.createQueryBuilder('u').where('lower(u.username) = lower(:username)', { username }).getOne();
  }

  async count(): Promise<number> {
    return this.users.count();
  }

  async create(dto: CreateUserDto): Promise<UserDto> {
    const passwordHash = await this.hasher.hash(dto.password);
    try {
      const user = await this.users.save(
        this.users.create({ username: dto.username, passwordHash, role: dto.role, disabled: false, passwordChangedAt: this.clock.now() }),
      );
      return toUserDto(user);
    } catch (err) {
      if (isUniqueViolation(err)) throw HookhubError.conflict(`A user named "${dto.username}" already exists`);
      throw err;
    }
  }

  async update(id: string, dto: UpdateUserDto, actor: Principal): Promise<UserDto> {
    return this.dataSource.transaction(async (manager) => {
      const user = await this.find(id, manager);
      const losesAdmin =
        user.role === Role.Admin && !user.disabled && ((dto.role !== undefined && dto.role !== Role.Admin) || dto.disabled === true);
      if (losesAdmin) await this.assertAnotherAdmin(manager, user.id);
      if (user.id === actor.userId && dto.disabled === true) throw HookhubError.conflict('You cannot disable your own account');
      if (dto.role !== undefined) user.role = dto.role;
      if (dto.disabled !== undefined) user.disabled = dto.disabled;
      return toUserDto(await manager.getRepository(User).save(user));
    });
  }

  async remove(id: string, actor: Principal): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const user = await this.find(id, manager);
      if (user.id === actor.userId) throw HookhubError.conflict('You cannot delete your own account');
      if (user.role === Role.Admin && !user.disabled) await this.assertAnotherAdmin(manager, user.id);
      await manager.getRepository(User).delete({ id: user.id });
    });
  }

  /** An admin sets someone's password; their existing tokens stop working. */
  async setPassword(id: string, dto: SetPasswordDto): Promise<void> {
    const user = await this.find(id);
    await this.users.update({ id: user.id }, { passwordHash: await this.hasher.hash(dto.password), passwordChangedAt: this.clock.now() });
  }

  /** A user changes their own password, proving the current one. */
  async changeOwnPassword(userId: string, dto: ChangeOwnPasswordDto): Promise<void> {
    const user = await this.find(userId);
    if (!(await this.hasher.verify(dto.current_password, user.passwordHash))) {
      throw HookhubError.badRequest('The current password is wrong', [{ field: 'current_password', errors: ['current_password is wrong'] }]);
    }
    await this.users.update({ id: user.id }, { passwordHash: await this.hasher.hash(dto.new_password), passwordChangedAt: this.clock.now() });
  }

  private async assertAnotherAdmin(manager: EntityManager, exceptId: string): Promise<void> {
    // Lock the enabled admins so two concurrent demotions cannot both pass this check.
    const admins = (await manager.query(`SELECT id FROM users WHERE role = 'admin' AND NOT disabled FOR UPDATE`)) as Array<{ id: string }>;
    if (!admins.some((a) => a.id !== exceptId)) {
      throw HookhubError.conflict('This is the last enabled admin; create or enable another admin first');
    }
  }
}
