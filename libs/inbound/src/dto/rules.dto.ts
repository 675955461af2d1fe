import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import {
  Allow,
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { type Condition, IsOmittable, type TemplateInput } from '@hookhub/core';
import { TEMPLATE_LIST_SCHEMA } from '@hookhub/tasks';
import type { Rule } from '../entities/rule.entity';

const CONDITION_EXAMPLE = {
  and: [
    { path: 'event', eq: 'push' },
    { path: 'body.ref', eq: 'refs/heads/main' },
  ],
};

export class CreateRuleDto {
  /** @example "push to main deploys" */
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  /** Order among the source's rules, lowest first (default: after the last). */
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(100_000)
  position?: number;

  /**
   * When the rule applies: `{"and"|"or": [...]}`, `{"not": ...}` or `{"path": "body.ref", "<op>": value}` with
   * op one of eq, neq, in, exists, prefix, suffix, glob, regex, gt, lt. Paths start at event, body, headers, query.
   */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: CONDITION_EXAMPLE })
  @IsOptional()
  @Allow()
  condition?: Condition;

  /** The program to run (admins define programs). */
  @IsUUID()
  program_id!: string;

  /** Argument templates appended after the program's own. */
  @ApiPropertyOptional({
    ...TEMPLATE_LIST_SCHEMA,
    example: [{ template: '{{body.ref}}', pattern: '^refs/heads/[A-Za-z0-9._/-]+$' }],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Allow({ each: true })
  args?: TemplateInput[];

  /** Env templates; names must be in the program's env allow-list. @example {"GIT_REF": "{{body.ref}}"} */
  @IsOptional()
  @IsObject()
  env?: Record<string, TemplateInput>;

  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class UpdateRuleDto extends PartialType(CreateRuleDto, { skipNullProperties: false }) {}

export class RuleDto {
  id!: string;
  source_id!: string;
  position!: number;
  name!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: CONDITION_EXAMPLE })
  condition!: Condition;
  program_id!: string;
  @ApiProperty(TEMPLATE_LIST_SCHEMA)
  args!: TemplateInput[];
  @ApiProperty({ type: 'object', additionalProperties: true })
  env!: Record<string, TemplateInput>;
  enabled!: boolean;
  created_at!: string;
  updated_at!: string;
}

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

export class RuleListDto {
  @ApiProperty({ type: () => [RuleDto] })
  items!: RuleDto[];
  total!: number;
}

export class RuleTestRequestDto {
  /** The body as it would be sent (an object, or a string for non-JSON sources). @example {"ref": "refs/heads/main"} */
  @ApiPropertyOptional({
    oneOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }],
    example: { ref: 'refs/heads/main' },
  })
  @IsOptional()
  @Allow()
  body?: unknown;

  /** Request headers. @example {"X-GitHub-Event": "push"} */
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;

  /** Query parameters. */
  @IsOptional()
  @IsObject()
  query?: Record<string, string>;
}

export class RuleVerdictDto {
  rule_id!: string;
  name!: string;
  position!: number;
  enabled!: boolean;
  matched!: boolean;
  /** For a rule that did not match: the test that failed. @example "body.ref eq \"refs/heads/main\" was \"refs/heads/dev\"" */
  @ApiPropertyOptional({ type: String, nullable: true }) failed!: string | null;
  /** For a rule that matched: the argv it would run, or why the run would be refused. */
  @ApiPropertyOptional({ type: [String], nullable: true }) argv!: string[] | null;
  @ApiPropertyOptional({ type: String, nullable: true }) refused!: string | null;
  /** Whether it would run given the source's match mode. */
  would_run!: boolean;
}

export class RuleTestResultDto {
  /** @example "push" */
  @ApiPropertyOptional({ type: String, nullable: true })
  event!: string | null;
  matched!: boolean;
  rules!: RuleVerdictDto[];
}
