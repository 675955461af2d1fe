import 'reflect-metadata';
import { ConfigError, loadConfig, loadDotenv } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { StoreRuntime } from '@hookhub/store';

/**
 * `npm run migration:run`: applies pending migrations with the same data source factory as the apps. It needs
 * no entities: migrations are SQL.
 */
async function main(): Promise<void> {
  loadDotenv();
  const config = loadConfig(process.env);
  const store = await StoreRuntime.open(config, { migrations: MIGRATIONS }, true);
  const pending = await store.dataSource.showMigrations();
  process.stdout.write(`migrations up to date${pending ? ' (some are still pending!)' : ''}\n`);
  await store.close();
  if (pending) process.exit(1);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
