import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import {
  APP_CONFIG,
  type AppConfig,
  BoundedCache,
  Clock,
  ErrorCode,
  HookhubError,
  type Page,
  compileCondition,
  isUuid,
} from '@hookhub/core';
import { Db } from '@hookhub/store';
import {
  type EventDetailDto,
  type EventDto,
  type ListEventsQueryDto,
  type PublishEventDto,
  type PublishedEventDto,
  toEventDto,
} from '../dto/events.dto';
import { toDeliveryDto } from '../dto/webhooks.dto';
import type { DeliveryTrigger } from '../entities/delivery.entity';
import { schemaErrors } from '../event-types/schema-errors';
import { eventBody } from '../payload/event-body';
import { filterCandidates } from '../policy/event-filter';
import { DeliveryStore, type EventRow } from '../stores/deliveries.store';
import { EventIdempotencyStore } from '../stores/event-idempotency.store';
import { EventStore } from '../stores/events.store';
import { EventTypesService } from './event-types.service';

/** How long an idempotency key returns the first publish's result. */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

/** The publisher of Hookhub's own events. */
export const HUB_PUBLISHER = 'hookhub';

export interface EventInput {
  type: string;
  data: Record<string, unknown>;
  occurredAt?: Date;
  idempotencyKey?: string;
  publishedBy: string;
}

/** Publishing events: checks, idempotency, and fan-out to deliveries in the same statement or transaction. */
@Injectable()
export class EventsService {
  /** Compiled payload filters by webhook and version (`id:updated_at`). */
  private readonly filters = new BoundedCache<string, (ctx: unknown) => { matched: boolean }>({ maxEntries: 10_000 });

  constructor(
    private readonly events: EventStore,
    private readonly deliveries: DeliveryStore,
    private readonly idempotency: EventIdempotencyStore,
    private readonly db: Db,
    private readonly types: EventTypesService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `POST /api/events`: the event and its deliveries are stored before this returns. */
  async publish(dto: PublishEventDto, by: string): Promise<PublishedEventDto> {
    const rules = await this.types.publishRules(dto.type);
    if (rules?.archived)
      throw HookhubError.badRequest(`The event type ${dto.type} is archived`, [
        { field: 'type', errors: ['the event type is archived'] },
      ]);
    if (rules?.validate && !rules.validate(dto.data)) {
      throw new HookhubError(
        ErrorCode.ValidationFailed,
        `The data does not match the schema of ${dto.type}`,
        schemaErrors(rules.validate.errors),
      );
    }
    const input: EventInput = {
      type: dto.type,
      data: dto.data,
      occurredAt: dto.occurred_at ? new Date(dto.occurred_at) : undefined,
      idempotencyKey: dto.idempotency_key,
      publishedBy: by,
    };
    return this.publishNow(input);
  }

  /**
   * Publishes and wakes the delivery workers. Without an idempotency key the event is stored by one
   * statement (two when a payload filter must be checked, the second one storing everything), so no
   * transaction is needed; with one, the key and the event are written in one transaction.
   */
  async publishNow(input: EventInput): Promise<PublishedEventDto> {
    const result =
      input.idempotencyKey === undefined
        ? await this.storeWithDeliveries(input)
        : await this.db.transaction((m) => this.storeWithDeliveries(input, m));
    if (result.deliveries > 0 && !result.duplicate) await this.deliveries.wake();
    return result;
  }

  /**
   * Stores an event and one delivery per matching enabled webhook inside the caller's transaction (so
   * Hookhub's own events commit with what caused them). Call {@link wake} after the commit.
   */
  publishWithin(m: EntityManager, input: EventInput): Promise<PublishedEventDto> {
    return this.storeWithDeliveries(input, m);
  }

  /** Stores an event with its deliveries: inside `m`'s transaction, or else (no idempotency key) in one or two statements of their own. */
  private async storeWithDeliveries(input: EventInput, m?: EntityManager): Promise<PublishedEventDto> {
    const dataJson = JSON.stringify(input.data);
    const bytes = Buffer.byteLength(dataJson);
    if (bytes > this.config.outbound.maxPayloadBytes) {
      throw new HookhubError(
        ErrorCode.PayloadTooLarge,
        `The data is ${bytes} bytes; at most ${this.config.outbound.maxPayloadBytes} are accepted`,
      );
    }
    const id = randomUUID();
    if (input.idempotencyKey !== undefined) {
      const claimed = await this.idempotency.claim(input.idempotencyKey, id, IDEMPOTENCY_WINDOW_SECONDS, m);
      if (!claimed) {
        const first = await this.idempotency.firstPublish(input.idempotencyKey, m);
        if (first) return { id: first.id, type: first.type, deliveries: first.deliveryCount, duplicate: true };
      }
    }
    const event = this.eventRow(id, input, dataJson, bytes);
    const fanned = await this.deliveries.fanOut(event, 'auto', filterCandidates(input.type), m);
    if (fanned.stored) return { id, type: input.type, deliveries: fanned.deliveries, duplicate: false };
    const ctx = { type: input.type, event: input.type, data: input.data };
    const targets = fanned.candidates
      .filter(
        (c) =>
          c.payload_filter === null || this.payloadFilter(c.id, new Date(c.updated_at), c.payload_filter)(ctx).matched,
      )
      .map((c) => c.id);
    await this.deliveries.insertForTargets(event, targets, 'auto', targets.length, m);
    return { id, type: input.type, deliveries: targets.length, duplicate: false };
  }

  /** Stores an event with one delivery to one webhook, already claimed by `workerId` (webhook tests). */
  async createClaimed(
    webhookId: string,
    input: EventInput,
    workerId: string,
    leaseMs: number,
    trigger: DeliveryTrigger,
  ): Promise<{ eventId: string; deliveryId: string; body: string }> {
    const id = randomUUID();
    const dataJson = JSON.stringify(input.data);
    const event = this.eventRow(id, input, dataJson, Buffer.byteLength(dataJson));
    const deliveryId = randomUUID();
    await this.db.transaction(async (m) => {
      await this.deliveries.insertForTargets(event, [], trigger, 1, m);
      await this.deliveries.insertClaimed(
        { id: deliveryId, eventId: id, webhookId, eventType: input.type, trigger, workerId, leaseMs },
        m,
      );
    });
    return { eventId: id, deliveryId, body: event.body };
  }

  async wake(): Promise<void> {
    await this.deliveries.wake();
  }

  async list(query: ListEventsQueryDto): Promise<Page<EventDto>> {
    return this.events.page(query, toEventDto);
  }

  async get(id: string): Promise<EventDetailDto> {
    const event = isUuid(id) ? await this.events.findById(id) : null;
    if (!event) throw HookhubError.notFound('Event', id);
    const deliveries = await this.deliveries.listOfEvent(id, 1000);
    return { ...toEventDto(event), deliveries: deliveries.map(toDeliveryDto) };
  }

  /** The event's row: its body built once, at the time it occurred (now, unless given). */
  private eventRow(id: string, input: EventInput, dataJson: string, bytes: number): EventRow {
    const occurredAt = input.occurredAt ?? this.clock.now();
    return {
      id,
      type: input.type,
      body: eventBody(id, input.type, occurredAt, dataJson),
      bytes,
      occurredAt,
      idempotencyKey: input.idempotencyKey ?? null,
      publishedBy: input.publishedBy,
    };
  }

  private payloadFilter(id: string, updatedAt: Date, condition: unknown): (ctx: unknown) => { matched: boolean } {
    return this.filters.getOrSet(`${id}:${updatedAt.getTime()}`, () => compileCondition(condition));
  }
}
