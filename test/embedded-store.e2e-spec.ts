import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EMBEDDED_SHARED_BUFFERS_MB, EmbeddedPostgres } from '@hookhub/store';

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The embedded server itself: its data directory, its memory settings and its failures. */
describe('embedded Postgres server (e2e)', () => {
  const dirs: string[] = [];
  const freshDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'hookhub-embedded-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('creates a new data directory, applies the buffer size, and keeps data across a restart with another size', async () => {
    const dataDir = freshDir();
    const first = await EmbeddedPostgres.start({ dataDir });
    try {
      expect(existsSync(join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
      const [row] = await query<{ shared_buffers: string }>(first.url, 'SHOW shared_buffers');
      expect(row.shared_buffers).toBe(`${EMBEDDED_SHARED_BUFFERS_MB}MB`);
      await query(first.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('across a restart')");
    } finally {
      await first.stop();
    }

    const second = await EmbeddedPostgres.start({ dataDir, sharedBuffersMb: 24 });
    try {
      expect((await query<{ shared_buffers: string }>(second.url, 'SHOW shared_buffers'))[0].shared_buffers).toBe(
        '24MB',
      );
      expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 'across a restart' }]);
    } finally {
      await second.stop();
    }
  });

  it('says which directory it could not create a database in, and leaves no lock behind', async () => {
    const dataDir = freshDir();
    // A file where the database directory should be: initdb cannot create it.
    writeFileSync(join(dataDir, 'pgdata'), 'not a directory');
    await expect(EmbeddedPostgres.start({ dataDir })).rejects.toThrow(
      `creating the embedded database in ${join(dataDir, 'pgdata')} failed`,
    );
    expect(existsSync(join(dataDir, 'pgdata.lock'))).toBe(false);
  });

  it('refuses a data directory that another live process holds', async () => {
    const dataDir = freshDir();
    const held = await EmbeddedPostgres.start({ dataDir });
    try {
      // The lock names a live process other than this one (this test's parent).
      writeFileSync(join(dataDir, 'pgdata.lock'), String(process.ppid));
      await expect(EmbeddedPostgres.start({ dataDir })).rejects.toThrow(`is in use by process ${process.ppid}`);
    } finally {
      await held.stop();
    }
  });
});
