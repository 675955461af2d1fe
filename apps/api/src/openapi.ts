import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@hookhub/core';
import { AppModule } from './app.module';
import { createFastifyAdapter, swaggerDocument } from './bootstrap';

/**
 * `node dist/apps/api/src/openapi.js <file>`: writes the hub's OpenAPI document (the one `/docs-json` serves)
 * without a store: Nest's preview mode reads the modules' routes and creates no provider. The build types the
 * console's API client from it, so the console and the API cannot drift apart.
 */
async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: openapi.js <output file>');
  const dataDir = mkdtempSync(join(tmpdir(), 'hookhub-openapi-'));
  try {
    const config = loadConfig({
      NODE_ENV: 'development',
      HOOKHUB_DATA_DIR: dataDir,
      HOOKHUB_JWT_SECRET: randomBytes(32).toString('hex'),
      HOOKHUB_MASTER_KEY: randomBytes(32).toString('base64'),
      HOOKHUB_LOG_LEVEL: 'silent',
    });
    const app = await NestFactory.create<NestFastifyApplication>(
      AppModule.forRoot(config),
      createFastifyAdapter(config),
      { preview: true, logger: false, abortOnError: false },
    );
    writeFileSync(out, `${JSON.stringify(swaggerDocument(app), null, 2)}\n`);
    await app.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
