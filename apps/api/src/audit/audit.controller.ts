import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditPageDto, AuditQueryDto, AuditService, Auth, Role } from '@hookhub/auth';

@ApiTags('audit')
@Controller('api/audit')
@Auth(Role.Admin)
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Every change made through the admin API and every login attempt, newest first. */
  @Get()
  @ApiOperation({ summary: 'Read the audit log' })
  list(@Query() query: AuditQueryDto): Promise<AuditPageDto> {
    return this.audit.list(query);
  }
}
