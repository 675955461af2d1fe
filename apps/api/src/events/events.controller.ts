import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, CurrentPrincipal, NotAudited, type Principal, Role } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import {
  EventDetailDto,
  EventPageDto,
  EventsService,
  ListEventsQueryDto,
  PublishEventDto,
  PublishedEventDto,
} from '@hookhub/outbound';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('events')
@Controller('api/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /**
   * Publishes an event to every enabled webhook whose filters match. The event and its deliveries are stored
   * before the 202. The same `idempotency_key` within 24 h returns the first result (`duplicate: true`).
   * Publishes are not in the audit log: the event itself records its publisher.
   */
  @Post()
  @HttpCode(202)
  @Auth(Role.Operator, 'events:publish')
  @NotAudited()
  @ApiOperation({ summary: 'Publish an event' })
  @ApiAcceptedResponse({ type: PublishedEventDto })
  @ApiBadRequestResponse({
    description: 'Invalid fields, an archived type, or data that does not match the type schema',
    type: ErrorBody,
  })
  @ApiPayloadTooLargeResponse({ description: 'data is larger than HOOKHUB_EVENT_MAX_BYTES', type: ErrorBody })
  publish(@Body() dto: PublishEventDto, @CurrentPrincipal() principal: Principal): Promise<PublishedEventDto> {
    return this.events.publish(dto, principal.username);
  }

  /** Published events, newest first; filter by type and time. */
  @Get()
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'List events' })
  list(@Query() query: ListEventsQueryDto): Promise<EventPageDto> {
    return this.events.list(query);
  }

  /** The event with its payload and its delivery to each webhook. */
  @Get(':id')
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'Get an event and its deliveries' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseIdPipe) id: string): Promise<EventDetailDto> {
    return this.events.get(id);
  }
}
