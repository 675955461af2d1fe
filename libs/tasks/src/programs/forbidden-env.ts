/**
 * Env names a program may never receive, by allow-list or fixed value: the hub's own secrets and settings,
 * and variables that change how a process loads code.
 */
const FORBIDDEN_ENV = /^(HOOKHUB_.*|DATABASE_.*|REDIS_URL|PGPASSWORD|NODE_OPTIONS|LD_.*|DYLD_.*)$/;

/** Whether `name` (any case) is an env name a program may never receive. */
export function forbiddenEnvName(name: string): boolean {
  return FORBIDDEN_ENV.test(name.toUpperCase());
}
