import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AUDIT_KEY, type AuditMetadata, AuditService, type AuthenticatedRequest } from '@hookhub/auth';
import { type Observable, from, mergeMap } from 'rxjs';
import { originOf } from './origin';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Records every successful change made through the admin API in the audit log: who (the principal), what
 * (the action named by `@Audit`, or the method and route), the target id, the request body with secrets
 * removed, when, and from where. The entry is written before the response is sent. Endpoints marked
 * `@NotAudited()` (event publishes) are left out.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!MUTATING.has(req.method) || !req.principal) return next.handle();
    const meta = this.reflector.get<AuditMetadata | undefined>(AUDIT_KEY, context.getHandler());
    if (meta?.skip) return next.handle();
    const principal = req.principal;
    const params = (req.params ?? {}) as Record<string, string>;
    return next.handle().pipe(
      mergeMap((result: unknown) =>
        from(
          (async () => {
            const resultId =
              result && typeof result === 'object' && 'id' in result
                ? String((result as { id: unknown }).id)
                : undefined;
            try {
              await this.audit.record({
                actor: principal,
                action: meta?.action ?? `${req.method} ${req.routeOptions.url ?? req.url}`,
                targetType: meta?.targetType ?? null,
                targetId: params.id ?? resultId ?? null,
                details: {
                  ...(req.body && typeof req.body === 'object' ? { request: req.body as Record<string, unknown> } : {}),
                },
                origin: originOf(req),
              });
            } catch (err) {
              this.logger.error(
                `could not write the audit entry for ${req.method} ${req.url}: ${(err as Error).message}`,
              );
            }
            return result;
          })(),
        ),
      ),
    );
  }
}
