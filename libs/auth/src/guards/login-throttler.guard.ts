import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { ErrorCode, HookhubError } from '@hookhub/core';

/** Login throttling (per IP and per username) that answers 429 with a plain Retry-After header. */
@Injectable()
export class LoginThrottlerGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const retryAfter = Math.max(1, Math.ceil(detail.timeToBlockExpire || detail.timeToExpire));
    throw new HookhubError(
      ErrorCode.RateLimited,
      detail.key.includes('login-user') ? 'Too many login attempts for this user; try again later' : 'Too many login attempts; try again later',
      { retry_after_seconds: retryAfter },
      { 'Retry-After': String(retryAfter) },
    );
  }
}
