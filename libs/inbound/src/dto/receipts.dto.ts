import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { IsTimestamp, PageOf, PageQueryDto } from '@hookhub/core';
import { VERDICTS, type MatchedRule, type Receipt, type Verdict } from '../entities/receipt.entity';

export class ListReceiptsQueryDto extends PageQueryDto {
  @IsOptional()
  @IsUUID()
  source_id?: string;

  @ApiPropertyOptional({ enum: VERDICTS })
  @IsOptional()
  @IsIn(VERDICTS)
  verdict?: Verdict;

  /** @example "push" */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  event?: string;

  /** The HTTP status Hookhub answered. @example 401 */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(599)
  status_code?: number;

  /** Received at or after. @example "2026-11-23T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** Received before. */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class MatchedRuleDto implements MatchedRule {
  @ApiPropertyOptional({ type: String, nullable: true }) rule_id!: string | null;
  rule_name!: string;
  program_id!: string;
  program_name!: string;
}

export class ReceiptDto {
  id!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) source_id!: string | null;
  slug!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) delivery_id!: string | null;
  method!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) ip!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) event!: string | null;
  @ApiProperty({ enum: VERDICTS }) verdict!: Verdict;
  /** Why it was rejected, as `code: message`. */
  @ApiPropertyOptional({ type: String, nullable: true }) reason!: string | null;
  /** The HTTP status Hookhub answered. @example 202 */
  status_code!: number;
  @ApiProperty({ type: [MatchedRuleDto] }) matched_rules!: MatchedRuleDto[];
  task_ids!: string[];
  @ApiPropertyOptional({ type: String, nullable: true }) duplicate_of!: string | null;
  body_bytes!: number;
  duration_ms!: number;
  created_at!: string;
}

export function toReceiptDto(r: Receipt): ReceiptDto {
  return {
    id: r.id,
    source_id: r.sourceId,
    slug: r.slug,
    delivery_id: r.deliveryId,
    method: r.method,
    ip: r.ip,
    event: r.event,
    verdict: r.verdict,
    reason: r.reason,
    status_code: r.statusCode,
    matched_rules: r.matchedRules,
    task_ids: r.taskIds,
    duplicate_of: r.duplicateOf,
    body_bytes: r.bodyBytes,
    duration_ms: Math.round(r.durationMs * 1000) / 1000,
    created_at: r.createdAt.toISOString(),
  };
}

export class ReceiptDetailDto extends ReceiptDto {
  /** Request headers with secrets and signatures redacted. */
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) headers!: Record<string, string>;
  /** The body, capped (see body_truncated). */
  @ApiPropertyOptional({ type: String, nullable: true }) body!: string | null;
  body_truncated!: boolean;
}

export class ReceiptPageDto extends PageOf(ReceiptDto) {}
