import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type CompiledTemplate, type ConditionResult, IpAllowList, compileCondition, compileTemplate, parsePath } from '@hookhub/core';
import { type PrepareOptions, type PreparedRun, Program, type TasksService } from '@hookhub/tasks';
import type { MatchedRule } from '../entities/receipt.entity';
import { Rule } from '../entities/rule.entity';
import type { Source } from '../entities/source.entity';
import { DEFAULT_CREDENTIAL_HEADERS, VERIFIERS, type Verifier } from '../verifiers';
import { SourcesService } from './sources.service';

export interface CompiledRule {
  rule: Rule;
  match: (ctx: unknown) => ConditionResult;
  program: Program;
  args: CompiledTemplate[];
  env: Record<string, CompiledTemplate>;
}

/** A source ready for the receiver: secrets opened, verifier, allow-list, rules compiled. */
export interface CompiledSource {
  source: Source;
  secrets: string[];
  verifier: Verifier;
  allow: IpAllowList | null;
  methods: Set<string>;
  contentTypes: Set<string>;
  /** Lower-case header names never stored in receipts. */
  redact: Set<string>;
  rules: CompiledRule[];
  byIdPrograms: Map<number, Program>;
  dedupPath: string[] | null;
  eventPath: string[] | null;
}

const TTL_MS = 5000;
/**
 * Headers never stored in receipts, whatever the source: credentials in general, and every header any
 * verifier reads with its defaults (so a receipt of an unknown slug or of another scheme holds none either).
 */
export const ALWAYS_REDACTED: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key', ...DEFAULT_CREDENTIAL_HEADERS]);

/** Default event header per scheme, when the source names none. */
const SCHEME_EVENT_HEADER: Partial<Record<string, string>> = { github: 'x-github-event', gitlab: 'x-gitlab-event' };
const SCHEME_EVENT_FIELD: Partial<Record<string, string>> = { stripe: 'body.type', 'standard-webhooks': 'body.type', slack: 'body.type' };
/** Default delivery id field per scheme whose verifier defines none: Stripe's event id, Slack's Events API id. */
const SCHEME_DEDUP_FIELD: Partial<Record<string, string>> = { stripe: 'body.id', slack: 'body.event_id' };

function parsePathOrNull(path: string | null | undefined): string[] | null {
  return path ? parsePath(path) : null;
}

/**
 * Runs a trigger through a source's rules in order (the first match only, or all, per the source) and
 * prepares their runs. Throws the TemplateError of a refused run.
 */
export function routeByRules(compiled: CompiledSource, ctx: unknown, tasks: TasksService, options: PrepareOptions): { runs: PreparedRun[]; matched: MatchedRule[] } {
  const runs: PreparedRun[] = [];
  const matched: MatchedRule[] = [];
  for (const rule of compiled.rules) {
    if (!rule.rule.enabled || !rule.program.enabled || !rule.match(ctx).matched) continue;
    runs.push(tasks.prepare(rule.program, { args: rule.args, env: rule.env }, ctx, { ...options, ruleId: rule.rule.id }));
    matched.push({ rule_id: rule.rule.id, rule_name: rule.rule.name, program_id: rule.program.id, program_name: rule.program.name });
    if (compiled.source.matchMode === 'first') break;
  }
  return { runs, matched };
}

/**
 * Compiled sources by slug for the receiver, cached for a few seconds and dropped when any process changes a
 * source or rule. An unknown slug is cached too, so floods of bad URLs do not reach the database each time.
 */
@Injectable()
export class SourceRegistry {
  private readonly cache = new Map<string, { value: CompiledSource | null; at: number }>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly sources: SourcesService,
  ) {
    sources.onChange(() => this.cache.clear());
  }

  async bySlug(slug: string): Promise<CompiledSource | null> {
    const hit = this.cache.get(slug);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const source = await this.sources.findBySlug(slug);
    const value = source ? await this.compile(source) : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(slug, { value, at: Date.now() });
    return value;
  }

  async compile(source: Source): Promise<CompiledSource> {
    const rules = await this.dataSource.getRepository(Rule).find({ where: { sourceId: source.id }, order: { position: 'ASC', createdAt: 'ASC' } });
    const programIds = [...new Set([...rules.map((r) => r.programId), ...source.byIdPrograms])];
    const programs = programIds.length
      ? await this.dataSource.getRepository(Program).createQueryBuilder('p').where('p.id IN (:...ids)', { ids: programIds }).getMany()
      : [];
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
    const eventField = source.eventField ?? (source.eventHeader ? null : SCHEME_EVENT_FIELD[source.scheme] ?? null);
    return {
      source: { ...source, eventHeader: source.eventHeader ?? SCHEME_EVENT_HEADER[source.scheme] ?? null },
      secrets: this.sources.openSecrets(source),
      verifier,
      allow: source.ipAllow.length ? new IpAllowList(source.ipAllow) : null,
      methods: new Set(source.methods),
      contentTypes: new Set(source.contentTypes),
      redact,
      rules: compiledRules,
      byIdPrograms: new Map(source.byIdPrograms.map((id) => programById.get(id)).filter((p): p is Program => !!p).map((p) => [p.number, p])),
      dedupPath: source.dedupHeader ? null : parsePathOrNull(source.dedupField ?? SCHEME_DEDUP_FIELD[source.scheme]),
      eventPath: eventField ? parsePath(eventField) : null,
    };
  }
}
