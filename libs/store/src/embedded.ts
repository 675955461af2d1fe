import { PGlite } from '@electric-sql/pglite';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedSocketServer } from './embedded-server';

export interface EmbeddedOptions {
  /** Directory holding the database files (`<dataDir>/pgdata`), or 'memory://' for a throwaway store. */
  dataDir: string;
  /** Loopback port to serve on; 0 picks a free one. */
  port?: number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded store: PGlite (Postgres compiled to WASM) with its files under the data dir, served on
 * loopback by {@link EmbeddedSocketServer} so the ordinary `pg` driver talks to it. One process only: a lock file in the
 * data dir refuses a second process on the same files.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: EmbeddedSocketServer,
    readonly url: string,
    private readonly lockFile?: string,
  ) {}

  static async start(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
    const inMemory = options.dataDir === 'memory://';
    let lockFile: string | undefined;
    let pgdata = 'memory://';
    if (!inMemory) {
      mkdirSync(options.dataDir, { recursive: true });
      pgdata = join(options.dataDir, 'pgdata');
      lockFile = join(options.dataDir, 'pgdata.lock');
      if (existsSync(lockFile)) {
        const pid = Number(readFileSync(lockFile, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
          throw new Error(
            `The embedded database in ${options.dataDir} is in use by process ${pid}. The embedded store serves one ` +
              'process; run several processes against a real Postgres with DATABASE_URL.',
          );
        }
      }
      writeFileSync(lockFile, String(process.pid));
    }
    try {
      const db = await PGlite.create({ dataDir: pgdata });
      const server = new EmbeddedSocketServer(db);
      const address = await server.listen(options.port ?? 0);
      const url = `postgres://postgres@127.0.0.1:${address.port}/postgres?sslmode=disable`;
      return new EmbeddedPostgres(db, server, url, lockFile);
    } catch (err) {
      if (lockFile) rmSync(lockFile, { force: true });
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.db.close();
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }
}
