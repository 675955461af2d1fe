import { jest } from '@jest/globals';
import { MetricsService, type QueueDepth, statusClass } from './metrics.service';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('MetricsService', () => {
  let now = 0;
  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(performance, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  it('reads the gauges from the registered readers at most every 5 s, keeping the last value while the store is down', async () => {
    const metrics = new MetricsService();
    const readings: Array<QueueDepth | Error> = [
      { depth: 3, oldestDueAgeSeconds: 12.5 },
      new Error('the store is down'),
      { depth: 0, oldestDueAgeSeconds: 0 },
    ];
    let reads = 0;
    metrics.registerQueue('tasks', () => {
      const next = readings[reads++];
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    });
    let failing = 2;
    metrics.registerWebhooksFailing(() => Promise.resolve(failing));

    let text = await metrics.render();
    expect(sample(text, 'hookhub_queue_depth{queue="tasks"}')).toBe(3);
    expect(sample(text, 'hookhub_queue_oldest_due_age_seconds{queue="tasks"}')).toBe(12.5);
    expect(sample(text, 'hookhub_webhooks_failing')).toBe(2);
    expect(reads).toBe(1);

    // Within 5 s: cached, both gauges from the one reading.
    now += 4000;
    failing = 5;
    text = await metrics.render();
    expect(reads).toBe(1);
    expect(sample(text, 'hookhub_webhooks_failing')).toBe(2);

    // The store is down: the scrape still renders, with the last values.
    now += 2000;
    text = await metrics.render();
    expect(reads).toBe(2);
    expect(sample(text, 'hookhub_queue_depth{queue="tasks"}')).toBe(3);
    expect(sample(text, 'hookhub_webhooks_failing')).toBe(5);

    now += 6000;
    text = await metrics.render();
    expect(reads).toBe(3);
    expect(sample(text, 'hookhub_queue_depth{queue="tasks"}')).toBe(0);
    expect(sample(text, 'hookhub_queue_oldest_due_age_seconds{queue="tasks"}')).toBe(0);
  });

  it('renders no queue gauge before a first successful reading', async () => {
    const metrics = new MetricsService();
    metrics.registerQueue('deliveries', () => Promise.reject(new Error('down')));
    const text = await metrics.render();
    expect(text).not.toContain('hookhub_queue_depth{');
    expect(text).toContain('# TYPE hookhub_queue_depth gauge');
  });

  it('classes delivery statuses by their hundreds, none without an answer', () => {
    expect([200, 302, 404, 503, null, undefined, 0, 99, 600].map(statusClass)).toEqual([
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      'none',
      'none',
      'none',
      'none',
      'none',
    ]);
  });
});
