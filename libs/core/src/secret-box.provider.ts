import { Provider } from '@nestjs/common';
import type { AppConfig } from './config/app-config';
import { SecretBox } from './crypto/secret-box';
import { APP_CONFIG } from './tokens';

export const secretBoxProvider: Provider = {
  provide: SecretBox,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => new SecretBox(config.masterKey),
};
