import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { ErrorCode, HookhubError, TRIGGER_ROOTS, type TemplateInput, conditionProblem, isUuid } from '@hookhub/core';
import { ProgramsService, TasksService, templateProblem } from '@hookhub/tasks';
import type { CreateRuleDto, RuleDto, RuleListDto, RuleTestRequestDto, RuleTestResultDto, RuleVerdictDto, UpdateRuleDto } from '../dto/rules.dto';
import { Rule } from '../entities/rule.entity';
import { buildContext, parseBody } from './trigger-context';
import { SourceRegistry } from './source-registry';
import { SourcesService } from './sources.service';

export function toRuleDto(r: Rule): RuleDto {
  return {
    id: r.id,
    source_id: r.sourceId,
    position: r.position,
    name: r.name,
    condition: r.condition,
    program_id: r.programId,
    args: r.args,
    env: r.env,
    enabled: r.enabled,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

/** The ordered rules of a source, and the dry run that explains which one matches a sample request. */
@Injectable()
export class RulesService {
  private readonly rules: Repository<Rule>;

  constructor(
    dataSource: DataSource,
    private readonly sources: SourcesService,
    private readonly programs: ProgramsService,
    private readonly tasks: TasksService,
    private readonly registry: SourceRegistry,
  ) {
    this.rules = dataSource.getRepository(Rule);
  }

  async list(sourceId: string): Promise<RuleListDto> {
    await this.sources.find(sourceId);
    const items = await this.rules.find({ where: { sourceId }, order: { position: 'ASC', createdAt: 'ASC' } });
    return { items: items.map(toRuleDto), total: items.length };
  }

  async create(sourceId: string, dto: CreateRuleDto): Promise<RuleDto> {
    await this.sources.find(sourceId);
    await this.validate(dto);
    let position = dto.position;
    if (position === undefined) {
      const [{ max }] = (await this.rules.query(`SELECT coalesce(max(position), -1)::int AS max FROM rules WHERE source_id = $1`, [sourceId])) as Array<{ max: number }>;
      position = max + 1;
    }
    const saved = await this.rules.save(
      this.rules.create({ sourceId, position, name: dto.name, condition: dto.condition ?? true, programId: dto.program_id, args: dto.args ?? [], env: dto.env ?? {}, enabled: dto.enabled ?? true }),
    );
    await this.sources.changed();
    return toRuleDto(saved);
  }

  async update(sourceId: string, ruleId: string, dto: UpdateRuleDto): Promise<RuleDto> {
    const rule = await this.find(sourceId, ruleId);
    const merged: CreateRuleDto = { name: rule.name, condition: rule.condition, program_id: rule.programId, args: rule.args, env: rule.env, ...dto };
    await this.validate(merged);
    Object.assign(rule, {
      name: merged.name,
      position: dto.position ?? rule.position,
      condition: merged.condition ?? true,
      programId: merged.program_id,
      args: merged.args ?? [],
      env: merged.env ?? {},
      enabled: dto.enabled ?? rule.enabled,
    });
    const saved = await this.rules.save(rule);
    await this.sources.changed();
    return toRuleDto(saved);
  }

  async remove(sourceId: string, ruleId: string): Promise<RuleDto> {
    const rule = await this.find(sourceId, ruleId);
    await this.rules.delete({ id: rule.id });
    await this.sources.changed();
    return toRuleDto(rule);
  }

  /** Evaluates every rule against a sample request (no signature check, nothing runs). */
  async test(sourceId: string, dto: RuleTestRequestDto): Promise<RuleTestResultDto> {
    const source = await this.sources.find(sourceId);
    const compiled = await this.registry.compile(source);
    const headers = Object.fromEntries(Object.entries(dto.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const body = typeof dto.body === 'string' ? parseBody(Buffer.from(dto.body), headers['content-type']) : dto.body ?? {};
    const ctx = buildContext(compiled, body, headers, dto.query ?? {});
    let found = false;
    const verdicts: RuleVerdictDto[] = compiled.rules.map(({ rule, match, program, args, env }) => {
      const result = rule.enabled ? match(ctx) : { matched: false, failed: 'the rule is disabled' };
      let argv: string[] | null = null;
      let refused: string | null = null;
      if (result.matched) {
        try {
          argv = this.tasks.prepare(program, { args, env }, ctx, { trigger: 'receipt' }).argv;
        } catch (err) {
          refused = (err as Error).message;
        }
      }
      const wouldRun = result.matched && refused === null && (compiled.source.matchMode === 'all' || !found);
      if (wouldRun) found = true;
      return {
        rule_id: rule.id,
        name: rule.name,
        position: rule.position,
        enabled: rule.enabled,
        matched: result.matched,
        failed: result.matched ? null : (result.failed ?? null),
        argv,
        refused,
        would_run: wouldRun,
      };
    });
    return { event: ctx.event, matched: found, rules: verdicts };
  }

  private async find(sourceId: string, ruleId: string): Promise<Rule> {
    await this.sources.find(sourceId);
    const rule = isUuid(ruleId) ? await this.rules.findOneBy({ id: ruleId, sourceId }) : null;
    if (!rule) throw HookhubError.notFound('Rule', ruleId);
    return rule;
  }

  private async validate(dto: CreateRuleDto): Promise<void> {
    const program = await this.programs.find(dto.program_id).catch(() => null);
    const problems = ruleProblems(dto, program);
    if (!program) problems.push({ field: 'program_id', errors: [`program ${dto.program_id} does not exist`] });
    if (problems.length) throw new HookhubError(ErrorCode.ValidationFailed, 'The rule is not valid', problems);
  }
}

/** What is wrong with a rule for `program` (its condition, templates, env names); empty when it is valid. */
export function ruleProblems(dto: Omit<CreateRuleDto, 'program_id'>, program: { name: string; envAllow: string[] } | null): Array<{ field: string; errors: string[] }> {
  const problems: Array<{ field: string; errors: string[] }> = [];
  const add = (field: string, error: string) => problems.push({ field, errors: [error] });
  const condition = conditionProblem(dto.condition ?? true, { roots: TRIGGER_ROOTS });
  if (condition) add('condition', condition);
  (dto.args ?? []).forEach((t: TemplateInput, i: number) => {
    const problem = templateProblem(t, 'arg');
    if (problem) add(`args.${i}`, problem);
  });
  for (const [name, t] of Object.entries(dto.env ?? {})) {
    const problem = templateProblem(t, 'env');
    if (problem) add(`env.${name}`, problem);
    else if (program && !program.envAllow.includes(name)) add(`env.${name}`, `${name} is not in the env allow-list of program ${program.name}`);
  }
  return problems;
}
