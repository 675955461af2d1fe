import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { loadConfig } from '@hookhub/core';
import { JobsService, StoreRuntime } from '@hookhub/store';
import { WorkerModule } from '@app/worker/worker.module';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { eventually } from './helpers/receiver';

describe('worker app (e2e)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('boots without HTTP on the store, migrates it, works the queue, and shuts down cleanly', async () => {
    const config = loadConfig({ NODE_ENV: 'test', HOOKHUB_LOG_LEVEL: 'silent', ...db.env });
    const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: false });
    await app.init();
    const runtime = app.get(StoreRuntime);
    try {
      const ds = app.get(DataSource);
      expect(await ds.showMigrations()).toBe(false);
      const jobs = app.get(JobsService);
      const seen: unknown[] = [];
      const worker = jobs.worker<{ n: number }>('worker-e2e', async (job) => {
        seen.push(job.payload);
      });
      worker.start();
      await jobs.enqueue('worker-e2e', { n: 1 });
      await eventually(async () => (seen.length ? true : undefined), 20_000, 'the job to be handled').finally(() => worker.stop());
      expect(seen).toEqual([{ n: 1 }]);
    } finally {
      await app.close();
    }
    expect(runtime.dataSource.isInitialized).toBe(false);
  });
});
