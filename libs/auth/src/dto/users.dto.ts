import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsEnum, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsOmittable, PageOf, PageQueryDto } from '@hookhub/core';
import type { User } from '../entities/user.entity';
import { Role } from '../roles';

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$/;

export class CreateUserDto {
  /** 2-64 characters: letters, digits, `.`, `_`, `@`, `-`. Unique, case-insensitively. @example "ops-alice" */
  @IsString()
  @Matches(USERNAME_PATTERN, { message: 'username must be 2-64 characters of letters, digits, ".", "_", "@" or "-"' })
  username!: string;

  /** At least 8 characters. @example "correct-horse-battery" */
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  password!: string;

  @ApiProperty({ enum: Role, example: Role.Operator })
  @IsEnum(Role)
  role!: Role;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ enum: Role, example: Role.Viewer })
  @IsOmittable()
  @IsEnum(Role)
  role?: Role;

  /** A disabled user cannot log in and their tokens and API keys stop working. @example false */
  @IsOmittable()
  @IsBoolean()
  disabled?: boolean;
}

export class SetPasswordDto {
  /** At least 8 characters. @example "a-new-strong-password" */
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  password!: string;
}

export class ListUsersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: Role })
  @IsOptional()
  @IsEnum(Role)
  role?: Role;

  /** Matches usernames containing this text. @example "ops" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  q?: string;
}

export class UserDto {
  /** @example "3f1c2d9e-5b0a-4c4f-9f7e-2a1b3c4d5e6f" */
  id!: string;

  /** @example "ops-alice" */
  username!: string;

  @ApiProperty({ enum: Role, example: Role.Operator })
  role!: Role;

  /** @example false */
  disabled!: boolean;

  /** @example "2026-11-23T12:00:00.000Z" */
  @ApiPropertyOptional({ type: String, nullable: true })
  last_login_at!: string | null;

  /** @example "2026-11-23T12:00:00.000Z" */
  created_at!: string;

  /** @example "2026-11-23T12:00:00.000Z" */
  updated_at!: string;
}

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

export class UserPageDto extends PageOf(UserDto) {}
