import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * Who this process is, once per process: the task and delivery workers claim under `id` (so a run's
 * `worker_id` names the process in `GET /api/workers`), and the worker heartbeat registers it.
 */
export interface ProcessIdentity {
  /** `<hostname>:<pid>:<random8>`: unique even when a pid is reused after a restart. */
  readonly id: string;
  readonly hostname: string;
  readonly pid: number;
  /** Hookhub's version (package.json), `unknown` when the file cannot be found. */
  readonly version: string;
  readonly startedAt: Date;
}

/** DI token of this process's {@link ProcessIdentity} (provided by the core module). */
export const PROCESS_IDENTITY = Symbol('PROCESS_IDENTITY');

/**
 * The version in Hookhub's package.json, found above the main script (dist/apps/.../main.js in the image,
 * the build cache in tests) or the working directory; another package's package.json on the way is skipped.
 */
export function hookhubVersion(starts: readonly (string | undefined)[] = [process.argv[1], process.cwd()]): string {
  for (const start of starts) {
    if (!start) continue;
    let dir = resolve(start);
    for (;;) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        try {
          const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
          if (pkg.name === 'hookhub' && typeof pkg.version === 'string') return pkg.version;
        } catch {
          // Not readable JSON: keep looking further up.
        }
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return 'unknown';
}

/** A new identity for this process. */
export function createProcessIdentity(): ProcessIdentity {
  const host = hostname();
  return {
    id: `${host}:${process.pid}:${randomBytes(4).toString('hex')}`,
    hostname: host,
    pid: process.pid,
    version: hookhubVersion(),
    startedAt: new Date(),
  };
}
