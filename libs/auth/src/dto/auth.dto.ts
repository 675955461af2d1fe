import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { API_KEY_SCOPES, type ApiKeyScope, Role } from '../roles';

export class LoginDto {
  /** @example "admin" */
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  username!: string;

  /** @example "change-me-please" */
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  password!: string;
}

export class TokenDto {
  /** A JWT to send as `Authorization: Bearer <token>`. @example "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..." */
  access_token!: string;

  /** @example "Bearer" */
  token_type!: 'Bearer';

  /** Seconds until the token expires. @example 3600 */
  expires_in!: number;
}

export class ChangeOwnPasswordDto {
  /** @example "old-password" */
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  current_password!: string;

  /** At least 8 characters. @example "a-much-better-password" */
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  new_password!: string;
}

export class MeDto {
  /** @example "3f1c2d9e-5b0a-4c4f-9f7e-2a1b3c4d5e6f" */
  id!: string;

  /** @example "admin" */
  username!: string;

  @ApiProperty({ enum: Role, example: Role.Admin })
  role!: Role;

  /** How this request was authenticated. @example "user" */
  @ApiProperty({ enum: ['user', 'api_key'] })
  auth_type!: 'user' | 'api_key';

  /** The API key's scopes; absent for users. */
  @ApiPropertyOptional({ enum: API_KEY_SCOPES, isArray: true, example: ['events:publish'] })
  scopes?: ApiKeyScope[];

  /** @example "9c1d..." */
  @ApiPropertyOptional()
  api_key_id?: string;
}
