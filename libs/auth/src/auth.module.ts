import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule, seconds } from '@nestjs/throttler';
import { APP_CONFIG, type AppConfig, RedisThrottlerStorage } from '@hookhub/core';
import type { FastifyRequest } from 'fastify';
import { ApiKey } from './entities/api-key.entity';
import { AuditEntry } from './entities/audit-entry.entity';
import { User } from './entities/user.entity';
import { AuthGuard } from './guards/auth.guard';
import { LoginThrottlerGuard } from './guards/login-throttler.guard';
import { AdminBootstrap } from './services/admin-bootstrap';
import { ApiKeysService } from './services/api-keys.service';
import { AuditService } from './services/audit.service';
import { AuthService } from './services/auth.service';
import { PasswordHasher } from './services/password-hasher';
import { UsersService } from './services/users.service';

export const AUTH_ENTITIES = [User, ApiKey, AuditEntry];

function loginUsername(req: Record<string, unknown>): string {
  const body = (req as unknown as FastifyRequest).body as { username?: unknown } | undefined;
  return typeof body?.username === 'string' ? body.username.toLowerCase().slice(0, 64) : '';
}

/** Users, login and JWTs, API keys, the global roles guard and the audit log. */
@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: config.auth.jwtSecret,
        signOptions: { algorithm: 'HS256', issuer: 'hookhub' },
        verifyOptions: { algorithms: ['HS256'], issuer: 'hookhub' },
      }),
    }),
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        storage: config.redisUrl ? new RedisThrottlerStorage(config.redisUrl) : undefined,
        throttlers: [
          {
            name: 'login-ip',
            ttl: seconds(config.auth.loginRateWindowSeconds),
            limit: config.auth.loginRateLimit,
            getTracker: (req: Record<string, unknown>) => String((req as unknown as FastifyRequest).ip),
          },
          {
            name: 'login-user',
            ttl: seconds(config.auth.loginRateWindowSeconds),
            limit: config.auth.loginRateLimit,
            getTracker: (req: Record<string, unknown>) => loginUsername(req),
          },
        ],
      }),
    }),
  ],
  providers: [
    PasswordHasher,
    UsersService,
    ApiKeysService,
    AuditService,
    AuthService,
    AdminBootstrap,
    LoginThrottlerGuard,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [UsersService, ApiKeysService, AuditService, AuthService, LoginThrottlerGuard, ThrottlerModule],
})
export class AuthModule {}
