import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, closeOnSignals, loadConfig, loadDotenv } from '@hookhub/core';
import { ConfigFileError } from '@hookhub/inbound';

import { createApp } from './bootstrap';

async function main(): Promise<void> {
  loadDotenv();
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await createApp(config);
  closeOnSignals(app, { name: 'Hookhub API', timeoutMs: config.http.shutdownTimeoutMs });
  await app.listen({ port: config.port, host: config.host });
  const logger = new Logger('Hookhub');
  logger.log(
    `Hookhub API listening on http://${config.host}:${config.port} (docs at /docs, ${config.database.url ? 'Postgres' : 'embedded store'})`,
  );
  if (
    !config.isProduction &&
    (config.secretSources.jwtSecret === 'generated' || config.secretSources.masterKey === 'generated')
  ) {
    logger.warn(
      `Using development secrets kept in ${config.dataDir}; set HOOKHUB_JWT_SECRET and HOOKHUB_MASTER_KEY in production`,
    );
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigFileError) {
    process.stderr.write(`Hookhub failed to start: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Hookhub failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
