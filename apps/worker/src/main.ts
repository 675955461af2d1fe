import 'reflect-metadata';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigError, closeOnSignals, loadConfig } from '@hookhub/core';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig({ ...process.env, HOOKHUB_RUN_WORKERS: 'true' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (!config.database.url) {
    process.stderr.write(
      'The worker needs DATABASE_URL: the embedded store serves one process, and the API runs the workers itself.\n',
    );
    process.exit(1);
  }
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  closeOnSignals(app, { name: 'Hookhub worker', timeoutMs: config.http.shutdownTimeoutMs });
  await app.init();
  new NestLogger('Worker').log('Hookhub worker running');
}

main().catch((err: unknown) => {
  process.stderr.write(
    `Hookhub worker failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
