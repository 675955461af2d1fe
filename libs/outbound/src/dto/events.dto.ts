import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsObject, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsOmittable, IsTimestamp, PageOf, PageQueryDto, queryBoolean } from '@hookhub/core';
import type { EventType } from '../entities/event-type.entity';
import type { OutboundEvent } from '../entities/event.entity';
import { DeliveryDto } from './webhooks.dto';

/** An event type name: dot-separated segments of letters, digits, `_` and `-`. */
export const EVENT_TYPE_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

const SCHEMA_EXAMPLE = {
  type: 'object',
  required: ['id', 'status'],
  properties: { id: { type: 'string' }, status: { type: 'string', enum: ['running', 'stopped'] } },
};

export class CreateEventTypeDto {
  /** @example "service.started" */
  @IsString()
  @MaxLength(200)
  @Matches(EVENT_TYPE_NAME, { message: 'name is dot-separated segments of letters, digits, _ and -' })
  name!: string;

  /** @example "A service finished starting" */
  @IsOmittable()
  @IsString()
  @MaxLength(2000)
  description?: string;

  /** A JSON Schema (draft 2020-12 subset that Ajv supports) every published payload of this type must match. */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, example: SCHEMA_EXAMPLE })
  @IsOptional()
  @IsObject()
  schema?: Record<string, unknown> | null;
}

export class UpdateEventTypeDto extends PartialType(CreateEventTypeDto, { skipNullProperties: false }) {
  /** Archived types keep their history but refuse new events. */
  @IsOmittable()
  @IsBoolean()
  archived?: boolean;
}

export class ListEventTypesQueryDto extends PageQueryDto {
  /** Part of the name or description. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  /** Also list archived types (default false). */
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  include_archived?: boolean;
}

export class EventTypeDto {
  id!: string;
  /** @example "service.started" */
  name!: string;
  description!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, example: SCHEMA_EXAMPLE })
  schema!: Record<string, unknown> | null;
  archived!: boolean;
  /** Registered by Hookhub for its own events; cannot be deleted or renamed. */
  builtin!: boolean;
  created_at!: string;
  updated_at!: string;
}

export function toEventTypeDto(t: EventType): EventTypeDto {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    schema: t.schema as Record<string, unknown> | null,
    archived: t.archived,
    builtin: t.builtin,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
  };
}

export class EventTypePageDto extends PageOf(EventTypeDto) {}

export class PublishEventDto {
  /** @example "resource.instance.updated" */
  @IsString()
  @MaxLength(200)
  @Matches(EVENT_TYPE_NAME, { message: 'type is dot-separated segments of letters, digits, _ and -' })
  type!: string;

  /** The payload, a JSON object (at most 256 KiB by default). */
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { id: 'i-0a12', status: 'running', region: 'eu-west-1' },
  })
  @IsObject()
  data!: Record<string, unknown>;

  /** Publishing again with the same key within 24 h returns the first result instead of a new event. @example "instance-i-0a12-running-1" */
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  idempotency_key?: string;

  /** When it happened (default: now). @example "2026-11-23T10:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  occurred_at?: string;
}

export class PublishedEventDto {
  id!: string;
  /** @example "resource.instance.updated" */
  type!: string;
  /** Deliveries created: one per matching enabled webhook. @example 2 */
  deliveries!: number;
  /** True when the idempotency key was seen in the last 24 h and this is the first publish's result. */
  duplicate!: boolean;
}

export class ListEventsQueryDto extends PageQueryDto {
  /** Exact type (case-insensitive). @example "service.started" */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  type?: string;

  /** Created at or after. @example "2026-11-23T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** Created before. */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}

export class EventDto {
  id!: string;
  type!: string;
  occurred_at!: string;
  created_at!: string;
  /** Size of the JSON body sent. */
  bytes!: number;
  @ApiPropertyOptional({ type: String, nullable: true })
  idempotency_key!: string | null;
  /** Who published it (user or API key name, or `hookhub` for the hub's own events). */
  @ApiPropertyOptional({ type: String, nullable: true })
  published_by!: string | null;
  delivery_count!: number;
  @ApiProperty({ type: 'object', additionalProperties: true })
  data!: unknown;
}

export function toEventDto(e: OutboundEvent): EventDto {
  return {
    id: e.id,
    type: e.type,
    occurred_at: e.occurredAt.toISOString(),
    created_at: e.createdAt.toISOString(),
    bytes: e.bytes,
    idempotency_key: e.idempotencyKey,
    published_by: e.publishedBy,
    delivery_count: e.deliveryCount,
    data: (JSON.parse(e.body) as { data: unknown }).data,
  };
}

export class EventDetailDto extends EventDto {
  @ApiProperty({ type: () => [DeliveryDto] })
  deliveries!: DeliveryDto[];
}

export class EventPageDto extends PageOf(EventDto) {}
