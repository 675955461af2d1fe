import { All, Controller, HttpCode, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import { HookResponseDto, ReceiverService } from '@hookhub/inbound';
import { hookContextOf, rawBodyOf } from './raw-body';

@ApiTags('receiver')
@Controller('hooks')
@Public()
export class HooksController {
  constructor(private readonly receiver: ReceiverService) {}

  /**
   * Receives a trigger for the source `slug`. No JWT: the request is verified by the source's scheme over
   * the raw body bytes. Every request gets a receipt. A 2xx is sent only once the receipt and its task runs
   * are stored.
   */
  @All(':slug')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a trigger to a source', operationId: 'receiveHook' })
  @ApiParam({ name: 'slug', example: 'github-api' })
  @ApiHeader({ name: 'X-Hub-Signature-256', required: false, description: 'or the header of the source\'s scheme' })
  @ApiBody({ required: false, schema: { type: 'object', example: { task_id: 1 } } })
  @ApiAcceptedResponse({ description: 'Verified and stored; task ids in the body (or matched: false)', type: HookResponseDto })
  @ApiOkResponse({ description: 'A duplicate delivery (the original receipt), or a sync source\'s finished task', type: HookResponseDto })
  @ApiResponse({ status: 400, description: 'Malformed body, missing task id, or a value refused by a template pattern', type: ErrorBody })
  @ApiResponse({ status: 401, description: 'Missing or bad signature, or timestamp outside the replay window', type: ErrorBody })
  @ApiResponse({ status: 403, description: 'Address not in the allow-list', type: ErrorBody })
  @ApiResponse({ status: 404, description: 'Unknown or disabled source, or unknown task id', type: ErrorBody })
  @ApiResponse({ status: 405, description: 'Method not allowed', type: ErrorBody })
  @ApiResponse({ status: 413, description: 'Body over the source\'s cap', type: ErrorBody })
  @ApiResponse({ status: 415, description: 'Content type not accepted', type: ErrorBody })
  @ApiResponse({ status: 429, description: 'Over the rate limit (see Retry-After)', type: ErrorBody })
  async receive(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<HookResponseDto> {
    const result = await this.receiver.receive(hookContextOf(request), rawBodyOf(request));
    void reply.status(result.status);
    return result.body;
  }
}
