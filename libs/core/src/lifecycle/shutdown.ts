import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';

export interface ShutdownOptions {
  /** `Hookhub API`, `Hookhub worker`: named in the two log lines. */
  name: string;
  /** HOOKHUB_SHUTDOWN_TIMEOUT_MS: a shutdown that takes longer exits anyway. */
  timeoutMs: number;
}

/**
 * SIGTERM / SIGINT: one log line when the shutdown starts, the application closed in order (workers stop
 * claiming and drain, then HTTP, then the store), one line when it ends, exit 0. A shutdown that takes
 * longer than the timeout, or a second signal, exits at once with status 1.
 */
export function closeOnSignals(app: INestApplicationContext, options: ShutdownOptions): void {
  const logger = new Logger('Shutdown');
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn(`${signal} again: exiting now, without waiting for the shutdown to finish`);
      process.exit(1);
    }
    closing = true;
    const started = Date.now();
    logger.log(
      `${signal}: ${options.name} shutting down: no new work is claimed, running work gets up to ${options.timeoutMs} ms to finish`,
    );
    setTimeout(() => {
      logger.error(`${options.name}: shutdown took longer than ${options.timeoutMs} ms; exiting`);
      process.exit(1);
    }, options.timeoutMs).unref();
    app.close().then(
      () => {
        logger.log(`${options.name} shut down in ${Date.now() - started} ms`);
        process.exit(0);
      },
      (err: unknown) => {
        logger.error(
          `${options.name}: shutdown failed after ${Date.now() - started} ms: ${err instanceof Error ? err.message : String(err)}`,
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
