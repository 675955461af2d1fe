import { PGlite } from '@electric-sql/pglite';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedSocketServer } from './embedded-server';

export interface EmbeddedOptions {
  /** Directory holding the database files (`<dataDir>/pgdata`), or 'memory://' for a throwaway store. */
  dataDir: string;
  /** Loopback port to serve on; 0 picks a free one. */
  port?: number;
  /** Postgres `shared_buffers` in MB: PGlite's default (128 MB) is most of its idle memory. */
  sharedBuffersMb?: number;
}

/** Small enough for a hub that idles well under 350 MB; the OS page cache still holds the files. */
export const EMBEDDED_SHARED_BUFFERS_MB = 16;

function postgresConf(options: EmbeddedOptions): string[] {
  return [`shared_buffers=${options.sharedBuffersMb ?? EMBEDDED_SHARED_BUFFERS_MB}MB`];
}

/**
 * Creates a new data directory in a short-lived child process. Creating one runs initdb, a second WASM
 * Postgres whose memory the hub's process would keep long after (measured: 520 MB idle after a first start
 * in-process against 320 MB after a restart); in a child it is all returned when the child exits.
 */
async function initDataDir(pgdata: string, conf: string[]): Promise<void> {
  // The built hub is CommonJS; under Jest's ESM mode there is no `require`, and the bare name resolves from cwd.
  const pglite = typeof require === 'function' ? require.resolve('@electric-sql/pglite') : '@electric-sql/pglite';
  const script = `
    const { PGlite } = require(${JSON.stringify(pglite)});
    PGlite.create({ dataDir: process.argv[1], postgresqlconf: JSON.parse(process.argv[2]) })
      .then((db) => db.close())
      .catch((err) => { console.error(err && err.stack || String(err)); process.exit(1); });`;
  try {
    await promisify(execFile)(process.execPath, ['-e', script, pgdata, JSON.stringify(conf)], { maxBuffer: 1 << 20 });
  } catch (err) {
    rmSync(pgdata, { recursive: true, force: true });
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`creating the embedded database in ${pgdata} failed${stderr ? `: ${stderr}` : ''}`, { cause: err });
  }
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
      const postgresqlconf = postgresConf(options);
      if (!inMemory && !existsSync(join(pgdata, 'PG_VERSION'))) await initDataDir(pgdata, postgresqlconf);
      const db = await PGlite.create({ dataDir: pgdata, postgresqlconf });
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
