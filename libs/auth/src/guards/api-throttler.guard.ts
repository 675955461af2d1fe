import { type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import {
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  normalizeIp,
} from '@nestjs/throttler';
import { type AppConfig, ErrorCode, HookhubError, createThrottlerStorage } from '@hookhub/core';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedRequest } from '../decorators';

/** The admin API's limit per principal (or client address), on every `/api/` endpoint. */
export const API_THROTTLER = 'default';
/** Login attempts per client address, on `@LoginThrottle()` endpoints. */
export const LOGIN_ADDRESS_THROTTLER = 'login-address';
/** Login attempts per username, on `@LoginThrottle()` endpoints. */
export const LOGIN_USERNAME_THROTTLER = 'login-username';

const LOGIN_THROTTLE_KEY = 'hookhub:login-throttle';

/**
 * Counts this endpoint's calls as login attempts: limited per client address and per username (so neither
 * spraying one account from many addresses nor many accounts from one address gets far), by
 * HOOKHUB_LOGIN_RATE_LIMIT per HOOKHUB_LOGIN_RATE_WINDOW_SECONDS.
 */
export const LoginThrottle = (): MethodDecorator => SetMetadata(LOGIN_THROTTLE_KEY, true);

const requestOf = (context: ExecutionContext): AuthenticatedRequest =>
  context.switchToHttp().getRequest<AuthenticatedRequest>();

/** The client address; an IPv6 client's whole /64, which one client usually holds. */
const addressOf = (req: FastifyRequest): string => `address:${normalizeIp(req.ip)}`;

/** The username a login attempt names, as the store compares it (case-insensitive). */
function usernameOf(req: FastifyRequest): string | undefined {
  const body = req.body as { username?: unknown } | undefined;
  return typeof body?.username === 'string' && body.username ? body.username.toLowerCase().slice(0, 64) : undefined;
}

/**
 * The throttling of the admin API (ThrottlerModule's options): the `default` limit per API key, per user, or
 * per client address for requests without credentials, over all endpoints together; and the login limits
 * on `@LoginThrottle()` endpoints. Counted in one store for every instance: Redis when REDIS_URL is set.
 */
export function apiThrottling(config: AppConfig, reflector: Reflector): ThrottlerModuleOptions {
  const isLogin = (context: ExecutionContext): boolean =>
    reflector.get<boolean | undefined>(LOGIN_THROTTLE_KEY, context.getHandler()) === true;
  const login = {
    limit: config.auth.loginRateLimit,
    ttl: config.auth.loginRateWindowSeconds * 1000,
    setHeaders: false,
  };
  return {
    throttlers: [
      {
        name: API_THROTTLER,
        limit: config.http.rateLimit,
        ttl: config.http.rateWindowSeconds * 1000,
        skipIf: () => config.http.rateLimit === 0,
      },
      {
        name: LOGIN_ADDRESS_THROTTLER,
        ...login,
        skipIf: (context) => !isLogin(context),
        getTracker: (_req, context) => addressOf(requestOf(context)),
      },
      {
        name: LOGIN_USERNAME_THROTTLER,
        ...login,
        skipIf: (context) => !isLogin(context) || usernameOf(requestOf(context)) === undefined,
        getTracker: (_req, context) => `username:${usernameOf(requestOf(context))}`,
      },
    ],
    getTracker: (_req, context) => {
      const req = requestOf(context);
      const principal = req.principal;
      if (!principal) return addressOf(req);
      return principal.apiKeyId ? `api-key:${principal.apiKeyId}` : `user:${principal.userId}`;
    },
    // One count per tracker over all endpoints (the package's default counts each endpoint apart).
    generateKey: (_context, tracker) => tracker,
    storage: createThrottlerStorage(config),
  };
}

/** Thrown by the base guard's hook, so that {@link ApiThrottlerGuard.handleRequest} knows which throttler refused. */
class Throttled extends Error {
  constructor(readonly detail: ThrottlerLimitDetail) {
    super('throttled');
  }
}

function messageOf(throttler: string, detail: ThrottlerLimitDetail): string {
  if (throttler === LOGIN_ADDRESS_THROTTLER) return 'Too many login attempts from this address; try again later';
  if (throttler === LOGIN_USERNAME_THROTTLER) return 'Too many login attempts for this user; try again later';
  return `Over the limit of ${detail.limit} API requests in ${detail.ttl / 1000} seconds; try again later`;
}

/**
 * The global throttling guard of the admin API (after the auth guard, which names the principal). Paths
 * outside `/api/` (health, metrics) are not throttled; the receiver and Swagger UI do not pass through Nest's
 * guards at all. Over a limit: 429 `rate_limited` with Retry-After.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http' || !context.switchToHttp().getRequest<FastifyRequest>().url.startsWith('/api/');
  }

  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    try {
      return await super.handleRequest(request);
    } catch (err) {
      if (!(err instanceof Throttled)) throw err;
      const { timeToBlockExpire } = err.detail;
      throw new HookhubError(
        ErrorCode.RateLimited,
        messageOf(request.throttler.name ?? API_THROTTLER, err.detail),
        { retry_after_seconds: timeToBlockExpire },
        { 'Retry-After': String(timeToBlockExpire) },
      );
    }
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw new Throttled(detail);
  }
}
