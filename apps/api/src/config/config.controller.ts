import { Body, Controller, Get, Header, HttpCode, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { ErrorBody } from '@hookhub/core';
import { Auth, Role } from '@hookhub/auth';
import { ApplyConfigDto, ApplySummaryDto, ConfigFileService } from '@hookhub/inbound';

@ApiTags('config')
@Controller('api/config')
export class ConfigController {
  constructor(private readonly files: ConfigFileService) {}

  /**
   * The hub's programs, sources and rules as a HOOKHUB_CONFIG file. Secrets and program env values are
   * written as `${NAME}` references (never their values); set those variables before applying the file.
   */
  @Get('export')
  @Auth(Role.Admin)
  @Header('content-type', 'application/yaml; charset=utf-8')
  @ApiProduces('application/yaml')
  @ApiOperation({ summary: 'Export programs, sources and rules as YAML (admin)' })
  @ApiOkResponse({
    description: 'A file HOOKHUB_CONFIG can apply',
    schema: {
      type: 'string',
      example:
        'programs:\n  - name: deploy\n    command: /srv/hookhub/programs/deploy.sh\nsources:\n  - slug: github\n    scheme: github\n    secrets:\n      - ${HOOKHUB_SOURCE_GITHUB_SECRET_1}\n',
    },
  })
  export(): Promise<string> {
    return this.files.export();
  }

  /**
   * Applies a file in the HOOKHUB_CONFIG format, as the hub does at boot: checked whole first (every problem
   * with its line, nothing written when there is one), then programs by name, sources by slug and each listed
   * source's rules by name. `${NAME}` references read `env`. `dry_run` answers what would change.
   */
  @Post('apply')
  @HttpCode(200)
  @Auth(Role.Admin)
  @ApiOperation({ summary: 'Apply programs, sources and rules from YAML (admin)' })
  @ApiOkResponse({ type: ApplySummaryDto })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'The file cannot be applied: every problem, with its line' })
  async apply(@Body() dto: ApplyConfigDto): Promise<ApplySummaryDto> {
    const dryRun = dto.dry_run ?? false;
    const summary = await this.files.applyText(dto.yaml, dto.env ?? {}, dryRun);
    return { dry_run: dryRun, ...summary };
  }
}
