import { Module } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { ApiKey } from './entities/api-key.entity';
import { AuditEntry } from './entities/audit-entry.entity';
import { User } from './entities/user.entity';
import { AuthGuard } from './guards/auth.guard';
import { ApiThrottlerGuard, apiThrottling } from './guards/api-throttler.guard';
import { AdminBootstrap } from './services/admin-bootstrap';
import { ApiKeysService } from './services/api-keys.service';
import { AuditService } from './services/audit.service';
import { AuthService } from './services/auth.service';
import { PasswordHasher } from './services/password-hasher';
import { UsersService } from './services/users.service';
import { ApiKeyStore } from './stores/api-key.store';
import { AuditStore } from './stores/audit.store';
import { UserStore } from './stores/user.store';

/**
 * Users, login and JWTs, API keys, the global roles guard, the admin API's throttling and the audit log. Their
 * tables are read and written only through the stores (`users`: UserStore, `api_keys`: ApiKeyStore,
 * `audit_log`: AuditStore).
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([User, ApiKey, AuditEntry]),
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: config.auth.jwtSecret,
        signOptions: { algorithm: 'HS256', issuer: 'hookhub' },
        verifyOptions: { algorithms: ['HS256'], issuer: 'hookhub' },
      }),
    }),
    // Global: its storage (ThrottlerStorage) is the one rate-limit store, the receiver's limits included.
    ThrottlerModule.forRootAsync({ inject: [APP_CONFIG, Reflector], useFactory: apiThrottling }),
  ],
  providers: [
    UserStore,
    ApiKeyStore,
    AuditStore,
    PasswordHasher,
    UsersService,
    ApiKeysService,
    AuditService,
    AuthService,
    AdminBootstrap,
    { provide: APP_GUARD, useClass: AuthGuard },
    // After the auth guard, which names the principal it counts by.
    { provide: APP_GUARD, useClass: ApiThrottlerGuard },
  ],
  exports: [UserStore, ApiKeyStore, AuditStore, UsersService, ApiKeysService, AuditService, AuthService],
})
export class AuthModule {}
