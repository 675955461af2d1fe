import { TRIGGER_ROOTS, type TemplateInput, conditionProblem } from '@hookhub/core';
import { templateProblem } from '@hookhub/tasks';
import type { CreateRuleDto } from '../dto/rules.dto';

/** What is wrong with a rule for `program` (its condition, templates, env names); empty when it is valid. */
export function ruleProblems(
  dto: Omit<CreateRuleDto, 'program_id'>,
  program: { name: string; envAllow: string[] } | null,
): Array<{ field: string; errors: string[] }> {
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
    else if (program && !program.envAllow.includes(name))
      add(`env.${name}`, `${name} is not in the env allow-list of program ${program.name}`);
  }
  return problems;
}
