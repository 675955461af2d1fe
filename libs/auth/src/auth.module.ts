import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
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
  exports: [UsersService, ApiKeysService, AuditService, AuthService, LoginThrottlerGuard],
})
export class AuthModule {}
