import { DataSource } from 'typeorm';
import { DeliveryWorker } from '@hookhub/outbound';
import { QueueNotifier, StoreServer } from '@hookhub/store';
import { TaskWorker } from '@hookhub/tasks';
import { bootApp } from './helpers/app';

/**
 * The store is built on @nestjs/typeorm, whose module closes its data source in a shutdown hook of its own.
 * The hub's order must hold all the same: workers drain first, then the notifier stops, the data source
 * closes (once), and the embedded server stops last.
 */
describe('the store at shutdown (e2e)', () => {
  it('closes the notifier, the data source and then the server, only after the workers drained', async () => {
    const t = await bootApp();
    const order: string[] = [];
    /** Records `label` when `key` of `target` is called (`at: 'end'`: when the call settles). */
    const watch = <T extends object>(
      target: T,
      key: keyof T & string,
      label: string,
      at: 'start' | 'end' = 'start',
    ) => {
      const original = target[key] as unknown as (...args: unknown[]) => Promise<unknown>;
      Object.assign(target, {
        [key]: async (...args: unknown[]) => {
          if (at === 'start') order.push(label);
          const result = await original.apply(target, args);
          if (at === 'end') order.push(label);
          return result;
        },
      });
    };
    const dataSource = t.app.get(DataSource);
    const server = t.app.get(StoreServer);
    watch(t.app.get(TaskWorker), 'beforeApplicationShutdown', 'task worker drained', 'end');
    watch(t.app.get(DeliveryWorker), 'beforeApplicationShutdown', 'delivery worker drained', 'end');
    watch(t.app.get(QueueNotifier), 'stop', 'notifier stops');
    watch(dataSource, 'destroy', 'data source closes');
    watch(server, 'stop', 'server stops');
    expect(dataSource.isInitialized).toBe(true);
    await t.close();
    expect(order.slice(0, 2).sort()).toEqual(['delivery worker drained', 'task worker drained']);
    expect(order.slice(2)).toEqual(['notifier stops', 'data source closes', 'server stops']);
    expect(dataSource.isInitialized).toBe(false);
  });
});
