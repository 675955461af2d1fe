import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, ErrorCode, HookhubError, RateLimiter } from '@hookhub/core';
import type { FastifyRequest } from 'fastify';

/**
 * Login throttling: attempts are counted per client address and per username (so neither spraying one
 * account from many addresses nor many accounts from one address gets far). Over either limit: 429 with
 * Retry-After.
 */
@Injectable()
export class LoginThrottlerGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const body = req.body as { username?: unknown } | undefined;
    const username = typeof body?.username === 'string' ? body.username.toLowerCase().slice(0, 64) : '';
    const { loginRateLimit: limit, loginRateWindowSeconds } = this.config.auth;
    const windowMs = loginRateWindowSeconds * 1000;
    const byIp = await this.limiter.consume(`login:ip:${req.ip}`, limit, windowMs);
    const byUser = username ? await this.limiter.consume(`login:user:${username}`, limit, windowMs) : undefined;
    const blocked = !byIp.allowed ? byIp : byUser && !byUser.allowed ? byUser : undefined;
    if (blocked) {
      throw new HookhubError(
        ErrorCode.RateLimited,
        blocked === byIp ? 'Too many login attempts from this address; try again later' : 'Too many login attempts for this user; try again later',
        { retry_after_seconds: blocked.retryAfterSeconds },
        { 'Retry-After': String(blocked.retryAfterSeconds) },
      );
    }
    return true;
  }
}
