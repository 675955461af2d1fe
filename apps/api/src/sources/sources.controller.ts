import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Auth, Role } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import {
  CreateRuleDto,
  CreateSourceDto,
  ListSourcesQueryDto,
  ReceiptsService,
  RuleDto,
  RuleListDto,
  RuleTestRequestDto,
  RuleTestResultDto,
  RulesService,
  SourceDto,
  SourcePageDto,
  SourceStatsDto,
  SourceStatsQueryDto,
  SourcesService,
  UpdateRuleDto,
  UpdateSourceDto,
} from '@hookhub/inbound';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('sources')
@Controller('api/sources')
export class SourcesController {
  constructor(
    private readonly sources: SourcesService,
    private readonly rules: RulesService,
    private readonly receipts: ReceiptsService,
  ) {}

  /** Sources, newest first. Sources with scheme `none` are flagged `unverified`. */
  @Get()
  @Auth(Role.Viewer, 'sources:read')
  @ApiOperation({ summary: 'List sources' })
  list(@Query() query: ListSourcesQueryDto): Promise<SourcePageDto> {
    return this.sources.list(query);
  }

  /** Creates a source; triggers then go to `POST /hooks/{slug}`. Secrets are encrypted and never shown again. */
  @Post()
  @Auth(Role.Operator, 'sources:write')
  @Audit('source.create', 'source')
  @ApiOperation({ summary: 'Create a source' })
  @ApiConflictResponse({ description: 'The slug is taken', type: ErrorBody })
  create(@Body() dto: CreateSourceDto): Promise<SourceDto> {
    return this.sources.create(dto);
  }

  @Get(':id')
  @Auth(Role.Viewer, 'sources:read')
  @ApiOperation({ summary: 'Get a source' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseIdPipe) id: string): Promise<SourceDto> {
    return this.sources.get(id);
  }

  /** Changes a source. Sending `secrets` replaces them all (send old and new together to rotate). */
  @Patch(':id')
  @Auth(Role.Operator, 'sources:write')
  @Audit('source.update', 'source')
  @ApiOperation({ summary: 'Change a source' })
  @ApiNotFoundResponse({ type: ErrorBody })
  update(@Param('id', ParseIdPipe) id: string, @Body() dto: UpdateSourceDto): Promise<SourceDto> {
    return this.sources.update(id, dto);
  }

  @Delete(':id')
  @Auth(Role.Operator, 'sources:write')
  @Audit('source.delete', 'source')
  @ApiOperation({ summary: 'Delete a source and its rules' })
  @ApiNotFoundResponse({ type: ErrorBody })
  remove(@Param('id', ParseIdPipe) id: string): Promise<SourceDto> {
    return this.sources.remove(id);
  }

  @Post(':id/enable')
  @HttpCode(200)
  @Auth(Role.Operator, 'sources:write')
  @Audit('source.enable', 'source')
  @ApiOperation({ summary: 'Enable a source' })
  @ApiNotFoundResponse({ type: ErrorBody })
  enable(@Param('id', ParseIdPipe) id: string): Promise<SourceDto> {
    return this.sources.setEnabled(id, true);
  }

  /** A disabled source answers 404 to triggers, recorded as rejected. */
  @Post(':id/disable')
  @HttpCode(200)
  @Auth(Role.Operator, 'sources:write')
  @Audit('source.disable', 'source')
  @ApiOperation({ summary: 'Disable a source' })
  @ApiNotFoundResponse({ type: ErrorBody })
  disable(@Param('id', ParseIdPipe) id: string): Promise<SourceDto> {
    return this.sources.setEnabled(id, false);
  }

  /** Receipts counted by verdict, by status and by hour (default: the last 24 hours). */
  @Get(':id/stats')
  @Auth(Role.Viewer, 'sources:read')
  @ApiOperation({ summary: 'Receipt stats of a source' })
  @ApiNotFoundResponse({ type: ErrorBody })
  stats(@Param('id', ParseIdPipe) id: string, @Query() query: SourceStatsQueryDto): Promise<SourceStatsDto> {
    return this.receipts.stats(id, query);
  }

  /** The source's rules in the order they are tried. */
  @Get(':id/rules')
  @Auth(Role.Viewer, 'sources:read')
  @ApiOperation({ summary: 'List the rules of a source' })
  @ApiNotFoundResponse({ type: ErrorBody })
  listRules(@Param('id', ParseIdPipe) id: string): Promise<RuleListDto> {
    return this.rules.list(id);
  }

  @Post(':id/rules')
  @Auth(Role.Operator, 'sources:write')
  @Audit('rule.create', 'rule')
  @ApiOperation({ summary: 'Add a rule to a source' })
  @ApiNotFoundResponse({ type: ErrorBody })
  createRule(@Param('id', ParseIdPipe) id: string, @Body() dto: CreateRuleDto): Promise<RuleDto> {
    return this.rules.create(id, dto);
  }

  /** Explains which rule a sample request matches and, for the others, which test failed. Nothing runs. */
  @Post(':id/rules/test')
  @HttpCode(200)
  @Auth(Role.Operator, 'sources:write')
  @ApiOperation({ summary: 'Dry-run the rules against a sample request' })
  @ApiNotFoundResponse({ type: ErrorBody })
  testRules(@Param('id', ParseIdPipe) id: string, @Body() dto: RuleTestRequestDto): Promise<RuleTestResultDto> {
    return this.rules.test(id, dto);
  }

  @Patch(':id/rules/:ruleId')
  @Auth(Role.Operator, 'sources:write')
  @Audit('rule.update', 'rule')
  @ApiOperation({ summary: 'Change a rule' })
  @ApiNotFoundResponse({ type: ErrorBody })
  updateRule(
    @Param('id', ParseIdPipe) id: string,
    @Param('ruleId', ParseIdPipe) ruleId: string,
    @Body() dto: UpdateRuleDto,
  ): Promise<RuleDto> {
    return this.rules.update(id, ruleId, dto);
  }

  @Delete(':id/rules/:ruleId')
  @Auth(Role.Operator, 'sources:write')
  @Audit('rule.delete', 'rule')
  @ApiOperation({ summary: 'Delete a rule' })
  @ApiNotFoundResponse({ type: ErrorBody })
  deleteRule(@Param('id', ParseIdPipe) id: string, @Param('ruleId', ParseIdPipe) ruleId: string): Promise<RuleDto> {
    return this.rules.remove(id, ruleId);
  }
}
