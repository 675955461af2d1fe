import { Injectable } from '@nestjs/common';
import { ErrorCode, HookhubError, isUuid } from '@hookhub/core';
import { ProgramsService, TasksService } from '@hookhub/tasks';
import {
  type CreateRuleDto,
  type RuleDto,
  type RuleListDto,
  type RuleTestRequestDto,
  type RuleTestResultDto,
  type RuleVerdictDto,
  type UpdateRuleDto,
  toRuleDto,
} from '../dto/rules.dto';
import type { Rule } from '../entities/rule.entity';
import { parseBody } from '../http/body-parser';
import { ruleProblems } from '../rules/rule-problems';
import { buildContext } from '../routing/trigger-context';
import { RuleStore } from '../stores/rule.store';
import { SourceRegistry } from './source-registry';
import { SourcesService } from './sources.service';

/** The ordered rules of a source, and the dry run that explains which one matches a sample request. */
@Injectable()
export class RulesService {
  constructor(
    private readonly rules: RuleStore,
    private readonly sources: SourcesService,
    private readonly programs: ProgramsService,
    private readonly tasks: TasksService,
    private readonly registry: SourceRegistry,
  ) {
    // Rules refer to programs (ON DELETE RESTRICT): deleting a program still in use is a clear 409.
    programs.checkInUseBeforeRemove(async (program) => {
      const count = await this.rules.countUsingProgram(program.id);
      return count > 0 ? `Program ${program.name} is used by ${count} rule(s); delete or change them first` : null;
    });
  }

  async list(sourceId: string): Promise<RuleListDto> {
    await this.sources.find(sourceId);
    const items = await this.rules.listBySource(sourceId);
    return { items: items.map(toRuleDto), total: items.length };
  }

  async create(sourceId: string, dto: CreateRuleDto): Promise<RuleDto> {
    await this.sources.find(sourceId);
    await this.validate(dto);
    const position = dto.position ?? (await this.rules.nextPosition(sourceId));
    const saved = await this.rules.insert({
      sourceId,
      position,
      name: dto.name,
      condition: dto.condition ?? true,
      programId: dto.program_id,
      args: dto.args ?? [],
      env: dto.env ?? {},
      enabled: dto.enabled ?? true,
    });
    await this.sources.changed();
    return toRuleDto(saved);
  }

  async update(sourceId: string, ruleId: string, dto: UpdateRuleDto): Promise<RuleDto> {
    const rule = await this.find(sourceId, ruleId);
    const merged: CreateRuleDto = {
      name: rule.name,
      condition: rule.condition,
      program_id: rule.programId,
      args: rule.args,
      env: rule.env,
      ...dto,
    };
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
    await this.rules.delete(rule.id);
    await this.sources.changed();
    return toRuleDto(rule);
  }

  /** Evaluates every rule against a sample request (no signature check, nothing runs). */
  async test(sourceId: string, dto: RuleTestRequestDto): Promise<RuleTestResultDto> {
    const source = await this.sources.find(sourceId);
    const compiled = await this.registry.compile(source);
    const headers = Object.fromEntries(Object.entries(dto.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const body =
      typeof dto.body === 'string' ? parseBody(Buffer.from(dto.body), headers['content-type']) : (dto.body ?? {});
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
    const rule = isUuid(ruleId) ? await this.rules.findInSource(ruleId, sourceId) : null;
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
