import { Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Auth, CurrentPrincipal, type Principal, Role } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import {
  HookResponseDto,
  ListReceiptsQueryDto,
  ReceiptDetailDto,
  ReceiptPageDto,
  ReceiptsService,
} from '@hookhub/inbound';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('receipts')
@Controller('api/receipts')
export class ReceiptsController {
  constructor(private readonly receipts: ReceiptsService) {}

  /** Every inbound request, accepted or not, newest first; filter by source, verdict, event and time. */
  @Get()
  @Auth(Role.Viewer, 'sources:read')
  @ApiOperation({ summary: 'List receipts' })
  list(@Query() query: ListReceiptsQueryDto): Promise<ReceiptPageDto> {
    return this.receipts.list(query);
  }

  /** One receipt with its (redacted) headers and capped body. */
  @Get(':id')
  @Auth(Role.Viewer, 'sources:read')
  @ApiOperation({ summary: 'Get a receipt' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseIdPipe) id: string): Promise<ReceiptDetailDto> {
    return this.receipts.get(id);
  }

  /** Runs a verified receipt through the source's current rules again, as a new receipt. */
  @Post(':id/replay')
  @Auth(Role.Admin)
  @Audit('receipt.replay', 'receipt')
  @ApiOperation({ summary: 'Replay a receipt through the rules (admin)' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'Rejected, truncated or orphaned receipts cannot be replayed', type: ErrorBody })
  replay(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<HookResponseDto> {
    return this.receipts.replay(id, principal.username);
  }
}
