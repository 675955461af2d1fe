import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsService } from '@hookhub/core';

interface Panel {
  title: string;
  targets: Array<{ expr: string }>;
}

/** The Grafana dashboard in deploy/grafana follows the metrics the hub really exports. */
describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(join(process.cwd(), 'deploy/grafana/hookhub-dashboard.json'), 'utf8')) as {
    panels: Panel[];
  };
  const exported = new Set(new MetricsService().registry.getMetricsAsArray().map((m) => m.name));
  const used = new Set(
    dashboard.panels
      .flatMap((p) => p.targets.flatMap((t) => t.expr.match(/hookhub_[a-z_]+/g) ?? []))
      .map((name) => name.replace(/_(bucket|sum|count)$/, '')),
  );

  it('queries only metrics the hub exports', () => {
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });

  it("has a panel for each of Hookhub's own metrics", () => {
    const own = [...exported].filter((name) => !/^hookhub_(process|nodejs)_/.test(name));
    expect(own.length).toBeGreaterThanOrEqual(9);
    expect(own.filter((name) => !used.has(name))).toEqual([]);
  });

  it('gives every panel a title and at least one query', () => {
    for (const panel of dashboard.panels) {
      expect(panel.title).toEqual(expect.any(String));
      expect(panel.targets.length).toBeGreaterThan(0);
    }
  });
});
