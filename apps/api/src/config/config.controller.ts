import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Auth, Role } from '@hookhub/auth';
import { ConfigFileService } from '@hookhub/inbound';

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
}
