import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { ConfigFileService } from '@hookhub/inbound';

/** Applies HOOKHUB_CONFIG once the store is migrated; a file that cannot be applied stops the boot. */
@Injectable()
export class ConfigFileLoader implements OnApplicationBootstrap {
  constructor(
    private readonly files: ConfigFileService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.configFile) await this.files.applyFile(this.config.configFile);
  }
}
