import { type DynamicModule, Logger, type LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthModule, UsersService } from '@hookhub/auth';
import { type AppConfig, ConfigError, CoreModule, HookhubError, loadConfig, loadDotenv } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { StoreModule, StoreRuntime, runMigrationsLocked } from '@hookhub/store';
import { CliError, EXIT } from './cli-error';

/**
 * Commands that talk to the store directly, not to a hub: they read the hub's own settings (DATABASE_URL and
 * the rest, from the environment or `.env`), so they run where the hub runs. With the embedded store, stop the
 * hub first: one process at a time owns its data directory.
 */
/** Warnings and errors of the store's code go to stderr; its progress lines are dropped (stdout is the answer). */
const quietLogger: LoggerService = {
  log: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
  warn: (message: unknown) => void process.stderr.write(`warning: ${String(message)}\n`),
  error: (message: unknown) => void process.stderr.write(`error: ${String(message)}\n`),
};

function hubConfig(env: NodeJS.ProcessEnv): AppConfig {
  Logger.overrideLogger(quietLogger);
  loadDotenv();
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** Applies the pending migrations; answers their names. */
export async function migrate(env: NodeJS.ProcessEnv): Promise<string[]> {
  const config = hubConfig(env);
  const store = await StoreRuntime.open(config, { migrations: MIGRATIONS }, false);
  try {
    // Under the advisory lock, as a booting hub does: two of them at once apply each migration once.
    return (await runMigrationsLocked(store.dataSource)).map((m) => m.name);
  } finally {
    await store.close();
  }
}

@Module({})
class RecoveryModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: RecoveryModule,
      imports: [CoreModule.forRoot(config), StoreModule.forRoot({ migrations: MIGRATIONS }), AuthModule],
    };
  }
}

/** `admin reset-password`: a new password for a user, through the users service, for a locked-out operator. */
export async function resetPassword(
  env: NodeJS.ProcessEnv,
  username: string,
  password: string,
  enable: boolean,
): Promise<{ username: string; role: string; disabled: boolean }> {
  const config = hubConfig(env);
  const app = await NestFactory.createApplicationContext(RecoveryModule.forRoot(config), {
    logger: quietLogger,
    abortOnError: false,
  });
  try {
    const user = await app.get(UsersService).resetPassword(username, password, enable);
    return { username: user.username, role: user.role, disabled: user.disabled };
  } catch (err) {
    if (err instanceof HookhubError)
      throw new CliError(err.message, err.code === 'not_found' ? EXIT.notFound : EXIT.refused);
    throw err;
  } finally {
    await app.close();
  }
}
