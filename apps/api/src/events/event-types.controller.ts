import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Auth, Role } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import {
  CreateEventTypeDto,
  EventTypeDto,
  EventTypePageDto,
  EventTypesService,
  ListEventTypesQueryDto,
  UpdateEventTypeDto,
} from '@hookhub/outbound';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('event types')
@Controller('api/event-types')
export class EventTypesController {
  constructor(private readonly types: EventTypesService) {}

  /** Event types, newest first (archived ones only with `include_archived=true`). */
  @Get()
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'List event types' })
  list(@Query() query: ListEventTypesQueryDto): Promise<EventTypePageDto> {
    return this.types.list(query);
  }

  /** Registers a type; with a JSON Schema, every published payload of the type is checked against it. */
  @Post()
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('event_type.create', 'event_type')
  @ApiOperation({ summary: 'Create an event type' })
  @ApiConflictResponse({ description: 'The name is taken', type: ErrorBody })
  create(@Body() dto: CreateEventTypeDto): Promise<EventTypeDto> {
    return this.types.create(dto);
  }

  @Get(':id')
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'Get an event type' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseIdPipe) id: string): Promise<EventTypeDto> {
    return this.types.get(id);
  }

  /** Changes the description, schema (null removes it), archived flag, or name (not of built-in types). */
  @Patch(':id')
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('event_type.update', 'event_type')
  @ApiOperation({ summary: 'Update an event type' })
  @ApiNotFoundResponse({ type: ErrorBody })
  update(@Param('id', ParseIdPipe) id: string, @Body() dto: UpdateEventTypeDto): Promise<EventTypeDto> {
    return this.types.update(id, dto);
  }

  /** Built-in types cannot be deleted (archive them). Events already published keep their type name. */
  @Delete(':id')
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('event_type.delete', 'event_type')
  @ApiOperation({ summary: 'Delete an event type' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'It is built in', type: ErrorBody })
  remove(@Param('id', ParseIdPipe) id: string): Promise<EventTypeDto> {
    return this.types.remove(id);
  }
}
