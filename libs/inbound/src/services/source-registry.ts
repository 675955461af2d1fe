import { Injectable } from '@nestjs/common';
import { BoundedCache, Clock, IpAllowList, compileCondition, compileTemplate, parsePath } from '@hookhub/core';
import { type Program, ProgramsService } from '@hookhub/tasks';
import type { Source } from '../entities/source.entity';
import { ALWAYS_REDACTED, type CompiledRule, type CompiledSource, parsePathOrNull } from '../routing/compiled-source';
import { RuleStore } from '../stores/rule.store';
import { VERIFIERS } from '../verifiers';
import { SourcesService } from './sources.service';

const TTL_MS = 5000;

/**
 * Compiled sources by slug for the receiver, cached for a few seconds and dropped when any process changes a
 * source or rule. An unknown slug is cached too, so floods of bad URLs do not reach the database each time.
 */
@Injectable()
export class SourceRegistry {
  /** Compiled sources by slug; null for a slug no source has. */
  private readonly cache: BoundedCache<string, CompiledSource | null>;

  constructor(
    private readonly rules: RuleStore,
    private readonly programs: ProgramsService,
    private readonly sources: SourcesService,
    clock: Clock,
  ) {
    this.cache = new BoundedCache({ maxEntries: 10_000, ttlMs: TTL_MS, now: () => clock.nowMs() });
    sources.onChange(() => this.cache.clear());
  }

  async bySlug(slug: string): Promise<CompiledSource | null> {
    const hit = this.cache.get(slug);
    if (hit !== undefined) return hit;
    const source = await this.sources.findBySlug(slug);
    const value = source ? await this.compile(source) : null;
    this.cache.set(slug, value);
    return value;
  }

  async compile(source: Source): Promise<CompiledSource> {
    const rules = await this.rules.listBySource(source.id);
    const programIds = [...new Set([...rules.map((r) => r.programId), ...source.byIdPrograms])];
    const programs = await this.programs.findMany(programIds);
    const programById = new Map(programs.map((p) => [p.id, p]));
    const compiledRules: CompiledRule[] = [];
    for (const rule of rules) {
      const program = programById.get(rule.programId);
      if (!program) continue;
      compiledRules.push({
        rule,
        match: compileCondition(rule.condition),
        program,
        args: rule.args.map((t) => compileTemplate(t, { kind: 'arg' })),
        env: Object.fromEntries(Object.entries(rule.env).map(([k, t]) => [k, compileTemplate(t, { kind: 'env' })])),
      });
    }
    const verifier = VERIFIERS[source.scheme];
    const redact = new Set([...ALWAYS_REDACTED, ...verifier.credentialHeaders(source.verification)]);
    // What the source names itself wins over its scheme's defaults.
    const defaults = verifier.defaults;
    const eventField = source.eventField ?? (source.eventHeader ? null : (defaults?.eventField ?? null));
    return {
      source: { ...source, eventHeader: source.eventHeader ?? defaults?.eventHeader ?? null },
      secrets: this.sources.openSecrets(source),
      verifier,
      allow: source.ipAllow.length ? new IpAllowList(source.ipAllow) : null,
      methods: new Set(source.methods),
      contentTypes: new Set(source.contentTypes),
      redact,
      rules: compiledRules,
      byIdPrograms: new Map(
        source.byIdPrograms
          .map((id) => programById.get(id))
          .filter((p): p is Program => !!p)
          .map((p) => [p.number, p]),
      ),
      dedupPath: source.dedupHeader ? null : parsePathOrNull(source.dedupField ?? defaults?.dedupField),
      eventPath: eventField ? parsePath(eventField) : null,
    };
  }
}
