import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorBody } from '@hookhub/core';
import type { FastifyRequest } from 'fastify';
import { type Principal, type RequiredScope, Role } from './roles';

export const PUBLIC_KEY = 'hookhub:public';
export const AUTH_KEY = 'hookhub:auth';
export const AUDIT_KEY = 'hookhub:audit';

export interface AuthRequirement {
  role: Role;
  scopes: RequiredScope[];
}

export type AuthenticatedRequest = FastifyRequest & { principal?: Principal };

/** Anyone may call this endpoint, without credentials. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);

/**
 * Who may call this endpoint: at least `role`, and for API keys every scope listed. The guard enforces
 * it; an endpoint with neither `@Auth` nor `@Public` is admin-only (fail closed).
 */
export function Auth(role: Role, ...scopes: RequiredScope[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(AUTH_KEY, { role, scopes } satisfies AuthRequirement),
    ApiBearerAuth('bearer'),
    ApiSecurity('api-key'),
    ApiUnauthorizedResponse({ description: 'Missing, invalid or expired credentials', type: ErrorBody }),
    ApiForbiddenResponse({
      description: `Needs the ${role} role${scopes.length ? ` (API keys: scope ${scopes.join(', ')})` : ''}`,
      type: ErrorBody,
    }),
  );
}

export interface AuditMetadata {
  action: string;
  targetType?: string;
  /** Not audited (see {@link NotAudited}). */
  skip?: boolean;
}

/** Names the audit-log action of a mutating endpoint, e.g. `@Audit('user.create', 'user')`. */
export const Audit = (action: string, targetType?: string): MethodDecorator =>
  SetMetadata(AUDIT_KEY, { action, targetType } satisfies AuditMetadata);

/**
 * Keeps a mutating endpoint out of the audit log: data-plane traffic that is its own record, such as an
 * event publish (the event row names its publisher and is deleted with the retention period; a copy of its
 * payload in the audit log would outlive it).
 */
export const NotAudited = (): MethodDecorator =>
  SetMetadata(AUDIT_KEY, { action: '', skip: true } satisfies AuditMetadata);

/** The authenticated caller of this request. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on an endpoint without @Auth');
  return principal;
});
