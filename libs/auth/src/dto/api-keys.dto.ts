import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEnum,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { PageOf, PageQueryDto, queryBoolean } from '@hookhub/core';
import type { ApiKey } from '../entities/api-key.entity';
import { API_KEY_SCOPES, type ApiKeyScope, Role } from '../roles';

export class CreateApiKeyDto {
  /** What the key is for. @example "ci-deploy" */
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name!: string;

  /** The key's role; at most the creator's own role. Defaults to the creator's role. */
  @ApiPropertyOptional({ enum: Role, example: Role.Operator })
  @IsOptional()
  @IsEnum(Role)
  role?: Role;

  /** What the key may do within its role; `*` (the default) is everything. */
  @ApiPropertyOptional({ enum: API_KEY_SCOPES, isArray: true, example: ['events:publish'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(API_KEY_SCOPES.length)
  @IsIn(API_KEY_SCOPES, { each: true })
  scopes?: ApiKeyScope[];

  /** Days until the key stops working; omit for a key that does not expire. @example 90 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  expires_in_days?: number;
}

export class ListApiKeysQueryDto extends PageQueryDto {
  /** Include revoked keys. @example false */
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  include_revoked?: boolean;
}

export class ApiKeyDto {
  /** @example "9c1d0b2e-7a44-4f1e-8d3b-6c5a4e3f2b1a" */
  id!: string;

  /** @example "ci-deploy" */
  name!: string;

  /** The visible start of the key, to recognise it. @example "hk_3fA9xQ2p" */
  prefix!: string;

  @ApiProperty({ enum: Role, example: Role.Operator })
  role!: Role;

  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true, example: ['events:publish'] })
  scopes!: ApiKeyScope[];

  /** The user who created the key; it stops working if that user is disabled or deleted. */
  user_id!: string;

  /** @example "2026-11-23T12:00:00.000Z" */
  created_at!: string;

  @ApiPropertyOptional({ type: String, nullable: true })
  expires_at!: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  last_used_at!: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  last_used_ip!: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  revoked_at!: string | null;
}

export function toApiKeyDto(k: ApiKey): ApiKeyDto {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    role: k.role,
    scopes: k.scopes,
    user_id: k.userId,
    created_at: k.createdAt.toISOString(),
    expires_at: k.expiresAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    last_used_ip: k.lastUsedIp,
    revoked_at: k.revokedAt?.toISOString() ?? null,
  };
}

export class CreatedApiKeyDto extends ApiKeyDto {
  /** The key itself. Shown only in this response: store it now. @example "hk_3fA9xQ2p_Jm3...Q" */
  key!: string;
}

export class ApiKeyPageDto extends PageOf(ApiKeyDto) {}
