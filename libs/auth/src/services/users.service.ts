import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock, ErrorCode, HookhubError, type Page, isUuid } from '@hookhub/core';
import { Db, isUniqueViolation } from '@hookhub/store';
import type { User } from '../entities/user.entity';
import {
  type CreateUserDto,
  type ListUsersQueryDto,
  type SetPasswordDto,
  type UpdateUserDto,
  type UserDto,
  toUserDto,
} from '../dto/users.dto';
import type { ChangeOwnPasswordDto } from '../dto/auth.dto';
import { Role, type Principal } from '../roles';
import { UserStore } from '../stores/user.store';
import { AuditService } from './audit.service';
import { PasswordHasher } from './password-hasher';

/** Users and their passwords. Keeps at least one enabled admin at all times. */
@Injectable()
export class UsersService {
  constructor(
    private readonly users: UserStore,
    private readonly db: Db,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  async list(query: ListUsersQueryDto): Promise<Page<UserDto>> {
    return this.users.list(query, toUserDto);
  }

  async get(id: string): Promise<UserDto> {
    return toUserDto(await this.find(id));
  }

  async find(id: string, manager?: EntityManager): Promise<User> {
    const user = isUuid(id) ? await this.users.findById(id, manager) : null;
    if (!user) throw HookhubError.notFound('User', id);
    return user;
  }

  async findByUsername(username: string): Promise<User | null> {
    return this.users.findByUsername(username);
  }

  async count(): Promise<number> {
    return this.users.count();
  }

  async create(dto: CreateUserDto): Promise<UserDto> {
    const passwordHash = await this.hasher.hash(dto.password);
    try {
      const user = await this.users.insert({
        username: dto.username,
        passwordHash,
        role: dto.role,
        disabled: false,
        passwordChangedAt: this.clock.now(),
      });
      return toUserDto(user);
    } catch (err) {
      if (isUniqueViolation(err)) throw HookhubError.conflict(`A user named "${dto.username}" already exists`);
      throw err;
    }
  }

  async update(id: string, dto: UpdateUserDto, actor: Principal): Promise<UserDto> {
    return this.db.transaction(async (manager) => {
      const user = await this.find(id, manager);
      const losesAdmin =
        user.role === Role.Admin &&
        !user.disabled &&
        ((dto.role !== undefined && dto.role !== Role.Admin) || dto.disabled === true);
      if (losesAdmin) await this.assertAnotherAdmin(manager, user.id);
      if (user.id === actor.userId && dto.disabled === true)
        throw HookhubError.conflict('You cannot disable your own account');
      if (dto.role !== undefined) user.role = dto.role;
      if (dto.disabled !== undefined) user.disabled = dto.disabled;
      return toUserDto(await this.users.save(user, manager));
    });
  }

  async remove(id: string, actor: Principal): Promise<void> {
    await this.db.transaction(async (manager) => {
      const user = await this.find(id, manager);
      if (user.id === actor.userId) throw HookhubError.conflict('You cannot delete your own account');
      if (user.role === Role.Admin && !user.disabled) await this.assertAnotherAdmin(manager, user.id);
      await this.users.delete(user.id, manager);
    });
  }

  /** An admin sets someone's password; their existing tokens stop working. */
  async setPassword(id: string, dto: SetPasswordDto): Promise<void> {
    const user = await this.find(id);
    await this.users.setPassword(user.id, await this.hasher.hash(dto.password), this.clock.now());
  }

  /**
   * Offline recovery (`hookhub admin reset-password`, run next to the store by someone who can reach it): a
   * new password for `username`, enabled again when `enable` is set; the user's existing tokens stop working.
   */
  async resetPassword(username: string, password: string, enable: boolean): Promise<User> {
    if (password.length < 8 || password.length > 256)
      throw new HookhubError(ErrorCode.ValidationFailed, 'The password must be 8 to 256 characters', [
        { field: 'password', errors: ['password must be 8 to 256 characters'] },
      ]);
    const user = await this.users.findByUsername(username);
    if (!user) throw HookhubError.notFound('User', username);
    const passwordHash = await this.hasher.hash(password);
    // One write (the password, the time that ends older tokens, and the enabling) and its audit entry, together.
    return this.db.transaction(async (manager) => {
      const saved = await this.users.save(
        {
          ...user,
          passwordHash,
          passwordChangedAt: this.clock.now(),
          disabled: enable ? false : user.disabled,
        },
        manager,
      );
      await this.audit.record(
        {
          actor: 'system',
          action: 'user.password_reset_offline',
          targetType: 'user',
          targetId: user.id,
          details: { username: user.username, enabled: enable && user.disabled },
        },
        manager,
      );
      return saved;
    });
  }

  /** A user changes their own password, proving the current one. */
  async changeOwnPassword(userId: string, dto: ChangeOwnPasswordDto): Promise<void> {
    const user = await this.find(userId);
    if (!(await this.hasher.verify(dto.current_password, user.passwordHash))) {
      throw HookhubError.badRequest('The current password is wrong', [
        { field: 'current_password', errors: ['current_password is wrong'] },
      ]);
    }
    await this.users.setPassword(user.id, await this.hasher.hash(dto.new_password), this.clock.now());
  }

  private async assertAnotherAdmin(manager: EntityManager, exceptId: string): Promise<void> {
    // Lock the enabled admins so two concurrent demotions cannot both pass this check.
    const admins = await this.users.lockEnabledAdmins(manager);
    if (!admins.some((a) => a.id !== exceptId)) {
      throw HookhubError.conflict('This is the last enabled admin; create or enable another admin first');
    }
  }
}
