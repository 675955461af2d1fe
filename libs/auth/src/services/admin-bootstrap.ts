import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { isUniqueViolation } from '@hookhub/store';
import { Role } from '../roles';
import { AuditService } from './audit.service';
import { UsersService } from './users.service';

/**
 * On first start (no user at all) creates the admin with HOOKHUB_ADMIN_PASSWORD, or with a random password
 * printed once in the log.
 */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly users: UsersService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.users.count()) > 0) return;
    const generated = !this.config.auth.adminPassword;
    const password = this.config.auth.adminPassword ?? randomBytes(18).toString('base64url');
    const username = this.config.auth.adminUsername;
    try {
      const user = await this.users.create({ username, password, role: Role.Admin });
      await this.audit.record({
        actor: 'system',
        action: 'user.bootstrap',
        targetType: 'user',
        targetId: user.id,
        details: { username },
      });
    } catch (err) {
      // Another process created the first user at the same moment.
      if (isUniqueViolation(err)) return;
      throw err;
    }
    if (generated) {
      this.logger.warn(
        `Created the first admin user "${username}" with the generated password: ${password}  ` +
          '(shown once; log in and change it with PUT /api/auth/password, or set HOOKHUB_ADMIN_PASSWORD before the first start)',
      );
    } else {
      this.logger.log(`Created the first admin user "${username}" with the password from HOOKHUB_ADMIN_PASSWORD`);
    }
  }
}
