import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiForbiddenResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  ApiKeyDto,
  ApiKeyPageDto,
  ApiKeysService,
  Audit,
  Auth,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  CurrentPrincipal,
  ListApiKeysQueryDto,
  type Principal,
  Role,
} from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('api-keys')
@Controller('api/api-keys')
@Auth(Role.Viewer)
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  /** Creates a key for scripts. The key is in this response only; it is stored as a hash. */
  @Post()
  @Audit('api_key.create', 'api_key')
  @ApiOperation({ summary: 'Create an API key' })
  @ApiForbiddenResponse({ description: 'Role or scopes above your own', type: ErrorBody })
  create(@Body() dto: CreateApiKeyDto, @CurrentPrincipal() principal: Principal): Promise<CreatedApiKeyDto> {
    return this.keys.create(dto, principal);
  }

  /** Your keys (admins: everyone's), without the secret part. */
  @Get()
  @ApiOperation({ summary: 'List API keys' })
  list(@Query() query: ListApiKeysQueryDto, @CurrentPrincipal() principal: Principal): Promise<ApiKeyPageDto> {
    return this.keys.list(query, principal);
  }

  /** Revokes a key at once. Revoking twice is harmless. */
  @Delete(':id')
  @Audit('api_key.revoke', 'api_key')
  @ApiOperation({ summary: 'Revoke an API key' })
  @ApiNotFoundResponse({ type: ErrorBody })
  revoke(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<ApiKeyDto> {
    return this.keys.revoke(id, principal);
  }
}
