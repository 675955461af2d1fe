import type { Clock } from '@hookhub/core';
import { Program, type ProgramsService } from '@hookhub/tasks';
import { Rule } from '../entities/rule.entity';
import { Source } from '../entities/source.entity';
import type { RuleStore } from '../stores/rule.store';
import { SourceRegistry } from './source-registry';
import type { SourcesService } from './sources.service';

/** The registry's cache of compiled sources, with fake stores and a hand-driven clock: no database. */

class FakeClock implements Pick<Clock, 'nowMs'> {
  ms = 1_000_000;
  nowMs(): number {
    return this.ms;
  }
}

class FakeSources implements Pick<SourcesService, 'findBySlug' | 'onChange' | 'openSecrets'> {
  readonly bySlug = new Map<string, Source>();
  lookups = 0;
  private listener?: () => void;

  findBySlug(slug: string): Promise<Source | null> {
    this.lookups++;
    return Promise.resolve(this.bySlug.get(slug) ?? null);
  }
  onChange(listener: () => void): void {
    this.listener = listener;
  }
  openSecrets(): string[] {
    return [];
  }
  /** What a change to any source or rule, in any process, does. */
  changed(): void {
    this.listener?.();
  }
}

class FakeRules implements Pick<RuleStore, 'listBySource'> {
  rules: Rule[] = [];
  listBySource(sourceId: string): Promise<Rule[]> {
    return Promise.resolve(this.rules.filter((r) => r.sourceId === sourceId));
  }
}

class FakePrograms implements Pick<ProgramsService, 'findMany'> {
  programs: Program[] = [];
  asked: string[][] = [];
  findMany(ids: readonly string[]): Promise<Program[]> {
    this.asked.push([...ids]);
    return Promise.resolve(this.programs.filter((p) => ids.includes(p.id)));
  }
}

function source(slug: string, overrides: Partial<Source> = {}): Source {
  return Object.assign(new Source(), {
    id: `id-${slug}`,
    slug,
    scheme: 'none',
    verification: {},
    secrets: [],
    ipAllow: [],
    methods: ['POST'],
    contentTypes: ['application/json'],
    eventHeader: null,
    eventField: null,
    dedupHeader: null,
    dedupField: null,
    byIdPrograms: [],
    ...overrides,
  });
}

function setup() {
  const clock = new FakeClock();
  const sources = new FakeSources();
  const rules = new FakeRules();
  const programs = new FakePrograms();
  const registry = new SourceRegistry(
    rules as unknown as RuleStore,
    programs as unknown as ProgramsService,
    sources as unknown as SourcesService,
    clock as unknown as Clock,
  );
  return { clock, sources, rules, programs, registry };
}

describe('SourceRegistry (with fake stores)', () => {
  it('compiles a source with its rules in order and their programs, skipping a rule whose program is gone', async () => {
    const { sources, rules, programs, registry } = setup();
    sources.bySlug.set('deploy', source('deploy', { byIdPrograms: ['p-2'] }));
    programs.programs = [
      Object.assign(new Program(), { id: 'p-1', number: 1, name: 'one' }),
      Object.assign(new Program(), { id: 'p-2', number: 2, name: 'two' }),
    ];
    rules.rules = [
      Object.assign(new Rule(), {
        id: 'r-1',
        sourceId: 'id-deploy',
        programId: 'p-1',
        condition: true,
        args: ['{{body.x}}'],
        env: {},
      }),
      Object.assign(new Rule(), {
        id: 'r-gone',
        sourceId: 'id-deploy',
        programId: 'p-deleted',
        condition: true,
        args: [],
        env: {},
      }),
    ];
    const compiled = await registry.bySlug('deploy');
    expect(programs.asked).toEqual([['p-1', 'p-deleted', 'p-2']]);
    expect(compiled!.rules.map((r) => [r.rule.id, r.program.name])).toEqual([['r-1', 'one']]);
    expect([...compiled!.byIdPrograms.entries()].map(([n, p]) => [n, p.id])).toEqual([[2, 'p-2']]);
  });

  it('serves a compiled source, and a slug no source has, from its cache for 5 s by the clock, then looks again', async () => {
    const { clock, sources, registry } = setup();
    sources.bySlug.set('known', source('known'));
    const first = await registry.bySlug('known');
    expect(await registry.bySlug('unknown')).toBeNull();
    expect(sources.lookups).toBe(2);

    clock.ms += 4_999;
    expect(await registry.bySlug('known')).toBe(first);
    expect(await registry.bySlug('unknown')).toBeNull();
    expect(sources.lookups).toBe(2);

    clock.ms += 1;
    sources.bySlug.set('unknown', source('unknown'));
    const again = await registry.bySlug('known');
    expect(again).not.toBe(first);
    expect((await registry.bySlug('unknown'))?.source.slug).toBe('unknown');
    expect(sources.lookups).toBe(4);
  });

  it('drops every cached source when a source or rule changes', async () => {
    const { sources, registry } = setup();
    sources.bySlug.set('known', source('known'));
    await registry.bySlug('known');
    await registry.bySlug('unknown');
    sources.changed();
    sources.bySlug.delete('known');
    expect(await registry.bySlug('known')).toBeNull();
    expect(sources.lookups).toBe(3);
  });

  it('keeps at most 10 000 slugs, dropping the least recently used', async () => {
    const { sources, registry } = setup();
    sources.bySlug.set('hot', source('hot'));
    await registry.bySlug('hot');
    for (let i = 0; i < 10_000; i++) {
      await registry.bySlug(`miss-${i}`);
      if (i % 1000 === 0) await registry.bySlug('hot');
    }
    const lookups = sources.lookups;
    await registry.bySlug('hot');
    expect(sources.lookups).toBe(lookups);
    await registry.bySlug('miss-0');
    expect(sources.lookups).toBe(lookups + 1);
  });
});
