import { IsBoolean, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';

export class ApplyConfigDto {
  /**
   * A file in the HOOKHUB_CONFIG format (as `GET /api/config/export` writes it). Its text is never kept in
   * the audit log, only its size. @example "programs:\n  - name: deploy\n    command: /srv/hookhub/programs/deploy.sh\nsources:\n  - slug: github\n    scheme: github\n    secrets: [\"${GITHUB_SECRET}\"]\n"
   */
  @IsString()
  @MaxLength(1024 * 1024)
  yaml!: string;

  /**
   * The values of the file's `${NAME}` references (the hub's own environment is never read for them). Never
   * stored or logged as such. @example {"GITHUB_SECRET": "my-secret-key"}
   */
  @IsOptional()
  @IsObject()
  env?: Record<string, string>;

  /** Check the whole file and answer what would change, writing nothing. */
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;
}

export class ApplyNamesDto {
  /** @example ["deploy"] */
  created!: string[];
  /** @example [] */
  updated!: string[];
}

export class ApplyRuleCountsDto {
  created!: number;
  updated!: number;
  deleted!: number;
}

export class ApplySummaryDto {
  /** True when nothing was written (`dry_run`). */
  dry_run!: boolean;
  programs!: ApplyNamesDto;
  sources!: ApplyNamesDto;
  rules!: ApplyRuleCountsDto;
}
