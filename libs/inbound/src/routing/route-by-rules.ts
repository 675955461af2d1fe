import type { PrepareOptions, PreparedRun, TasksService } from '@hookhub/tasks';
import type { MatchedRule } from '../entities/receipt.entity';
import type { CompiledSource } from './compiled-source';

/**
 * Runs a trigger through a source's rules in order (the first match only, or all, per the source) and
 * prepares their runs. Throws the TemplateError of a refused run.
 */
export function routeByRules(
  compiled: CompiledSource,
  ctx: unknown,
  tasks: TasksService,
  options: PrepareOptions,
): { runs: PreparedRun[]; matched: MatchedRule[] } {
  const runs: PreparedRun[] = [];
  const matched: MatchedRule[] = [];
  for (const rule of compiled.rules) {
    if (!rule.rule.enabled || !rule.program.enabled || !rule.match(ctx).matched) continue;
    runs.push(
      tasks.prepare(rule.program, { args: rule.args, env: rule.env }, ctx, { ...options, ruleId: rule.rule.id }),
    );
    matched.push({
      rule_id: rule.rule.id,
      rule_name: rule.rule.name,
      program_id: rule.program.id,
      program_name: rule.program.name,
    });
    if (compiled.source.matchMode === 'first') break;
  }
  return { runs, matched };
}
