import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG, type AppConfig, Clock, ErrorCode, HookhubError, isUuid } from '@hookhub/core';
import type { LoginDto, MeDto, TokenDto } from '../dto/auth.dto';
import type { Principal } from '../roles';
import { UserStore } from '../stores/user.store';
import { looksLikeApiKey } from '../api-keys/key-format';
import { ApiKeysService } from './api-keys.service';
import { AuditService, type RequestOrigin } from './audit.service';
import { PasswordHasher } from './password-hasher';
import { UsersService } from './users.service';

interface AccessClaims {
  sub: string;
  role: string;
  typ: 'access';
  /** Password version: the user's password_changed_at (ms) when the token was issued. */
  pv: number;
  iat: number;
  exp: number;
}

const INVALID_CREDENTIALS = 'Invalid username or password';

/** Login, tokens and turning a presented credential into a {@link Principal}. */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UserStore,
    private readonly jwt: JwtService,
    private readonly hasher: PasswordHasher,
    private readonly usersService: UsersService,
    private readonly apiKeys: ApiKeysService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Same answer for an unknown user, a wrong password and a disabled account. */
  async login(dto: LoginDto, origin: RequestOrigin): Promise<TokenDto> {
    const user = await this.usersService.findByUsername(dto.username);
    const ok = user
      ? await this.hasher.verify(dto.password, user.passwordHash)
      : await this.hasher.verifyDummy(dto.password);
    if (!user || !ok || user.disabled) {
      await this.audit.record({
        actor: null,
        actorName: dto.username.slice(0, 64),
        action: 'auth.login',
        outcome: 'failure',
        targetType: 'user',
        targetId: user?.id ?? null,
        details: { reason: !user ? 'unknown_user' : !ok ? 'wrong_password' : 'disabled' },
        origin,
      });
      throw new HookhubError(ErrorCode.InvalidCredentials, INVALID_CREDENTIALS);
    }
    const now = this.clock.now();
    await this.users.setLastLogin(user.id, now);
    const principal: Principal = {
      type: 'user',
      userId: user.id,
      username: user.username,
      role: user.role,
      scopes: null,
    };
    await this.audit.record({ actor: principal, action: 'auth.login', targetType: 'user', targetId: user.id, origin });
    const ttl = this.config.auth.jwtTtlSeconds;
    const claims = { sub: user.id, role: user.role, typ: 'access', pv: user.passwordChangedAt.getTime() };
    const access_token = await this.jwt.signAsync(claims, { expiresIn: ttl });
    return { access_token, token_type: 'Bearer', expires_in: ttl };
  }

  /**
   * Resolves a bearer token (JWT) or API key. Returns null for anything invalid: expired, tampered, signed
   * with another secret, issued before the last password change, or for a user since disabled or deleted.
   */
  async authenticate(credential: string, ip?: string): Promise<Principal | null> {
    if (looksLikeApiKey(credential)) return this.apiKeys.authenticate(credential, ip);
    let claims: AccessClaims;
    try {
      claims = await this.jwt.verifyAsync<AccessClaims>(credential, { algorithms: ['HS256'] });
    } catch {
      return null;
    }
    if (claims.typ !== 'access' || typeof claims.sub !== 'string' || !isUuid(claims.sub)) return null;
    const user = await this.users.findById(claims.sub);
    if (!user || user.disabled) return null;
    // A password change (or reset) ends every token issued before it, even within the same second.
    if (claims.pv !== user.passwordChangedAt.getTime()) return null;
    return { type: 'user', userId: user.id, username: user.username, role: user.role, scopes: null };
  }

  me(principal: Principal): MeDto {
    return {
      id: principal.userId,
      username: principal.username,
      role: principal.role,
      auth_type: principal.type,
      ...(principal.scopes ? { scopes: principal.scopes } : {}),
      ...(principal.apiKeyId ? { api_key_id: principal.apiKeyId } : {}),
    };
  }
}
