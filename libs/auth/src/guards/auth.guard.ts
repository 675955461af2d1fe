import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode, HookhubError } from '@hookhub/core';
import { AUTH_KEY, type AuthenticatedRequest, type AuthRequirement, PUBLIC_KEY } from '../decorators';
import { type ApiKeyScope, Role, roleAtLeast, SCOPE_ANY } from '../roles';
import { AuthService } from '../services/auth.service';

const FAIL_CLOSED: AuthRequirement = { role: Role.Admin, scopes: [] };
const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="hookhub"' };

/** Reads `Authorization: Bearer <jwt | api key>` or `X-API-Key`. */
export function extractCredential(req: AuthenticatedRequest): string | undefined {
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim()) return apiKey.trim();
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match) return match[1];
  }
  return undefined;
}

/** The global guard: every endpoint is authenticated and role-checked unless marked `@Public()`. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const requirement = this.reflector.getAllAndOverride<AuthRequirement>(AUTH_KEY, targets) ?? FAIL_CLOSED;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const credential = extractCredential(req);
    if (!credential) {
      throw new HookhubError(
        ErrorCode.Unauthenticated,
        'Authentication required: send Authorization: Bearer <token or API key>, or X-API-Key',
        undefined,
        CHALLENGE,
      );
    }
    const principal = await this.auth.authenticate(credential, req.ip);
    if (!principal)
      throw new HookhubError(
        ErrorCode.Unauthenticated,
        'Invalid, expired or revoked credentials',
        undefined,
        CHALLENGE,
      );
    req.principal = principal;
    if (!roleAtLeast(principal.role, requirement.role)) {
      throw HookhubError.forbidden(`This needs the ${requirement.role} role; you have ${principal.role}`);
    }
    if (principal.scopes && !principal.scopes.includes('*')) {
      const granted = principal.scopes;
      const needed = requirement.scopes.filter((s): s is Exclude<ApiKeyScope, '*'> => s !== SCOPE_ANY);
      const missing = needed.filter((s) => !granted.includes(s));
      const allowed = requirement.scopes.includes(SCOPE_ANY) || (needed.length > 0 && missing.length === 0);
      if (!allowed) {
        throw HookhubError.forbidden(
          missing.length
            ? `This API key lacks the scope: ${missing.join(', ')}`
            : 'This API key is limited to other scopes; this endpoint needs a key with scope "*"',
        );
      }
    }
    return true;
  }
}
