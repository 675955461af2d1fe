import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

export interface TestDatabase {
  /** Env entries that point a Hookhub config at this database. */
  env: Record<string, string>;
  /** The Postgres URL when on a real server; undefined on the embedded store. */
  url?: string;
  drop(): Promise<void>;
}

export const usingRealPostgres = (): boolean => !!process.env.DATABASE_URL;

export function tempDir(prefix = 'hookhub-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A fresh database for one suite: a new database on the server of DATABASE_URL when it is set (so suites
 * run in parallel without sharing rows), else a new embedded store in a temporary data dir.
 */
export async function createTestDatabase(options: { embedded?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl || options.embedded) {
    const dir = tempDir();
    return { env: { HOOKHUB_DATA_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `hookhub_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const dir = tempDir();
  return {
    url: url.toString(),
    env: { DATABASE_URL: url.toString(), HOOKHUB_DATA_DIR: dir },
    drop: async () => {
      rmSync(dir, { recursive: true, force: true });
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
