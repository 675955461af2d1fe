import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig, ErrorCode, HookhubError, type Page, compileCondition, createdBetween, isUuid, paginate } from '@hookhub/core';
import { StoreRuntime, queryPrepared } from '@hookhub/store';
import type { EventDetailDto, EventDto, ListEventsQueryDto, PublishEventDto, PublishedEventDto } from '../dto/events.dto';
import type { DeliveryDto } from '../dto/webhooks.dto';
import { Delivery, type DeliveryTrigger } from '../entities/delivery.entity';
import { OutboundEvent } from '../entities/event.entity';
import { DeliveryQueue } from './delivery-queue';
import { EventTypesService, schemaErrors } from './event-types.service';
import { filterCandidates } from './subscriptions.service';

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

export function toDeliveryDto(d: Delivery): DeliveryDto {
  return {
    id: d.id,
    event_id: d.eventId,
    webhook_id: d.subscriptionId,
    event_type: d.eventType,
    status: d.status,
    trigger: d.trigger,
    attempts: d.attempts,
    next_attempt_at: d.status === 'queued' ? d.runAt.toISOString() : null,
    last_status: d.lastStatus,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    finished_at: d.finishedAt?.toISOString() ?? null,
  };
}

function toEventDto(e: OutboundEvent): EventDto {
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

/**
 * The JSON sent to subscriptions: `{"id", "type", "timestamp", "data"}`. Built once at publish time and
 * stored, so every attempt sends (and signs) the same bytes.
 */
export function eventBody(id: string, type: string, occurredAt: Date, dataJson: string): string {
  return `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"timestamp":${JSON.stringify(occurredAt.toISOString())},"data":${dataJson}}`;
}

/**
 * Stores an event and one delivery per matching enabled subscription in one statement, when no candidate
 * has a payload filter (the usual case): one round trip, atomic without BEGIN/COMMIT. When a candidate has
 * one, nothing is stored and the candidates come back, to be filtered here and stored by a second statement.
 */
const FAN_OUT_SQL = `
  WITH c AS (
    SELECT id, payload_filter, updated_at FROM subscriptions WHERE enabled AND event_filters && $9::text[]
  ), plain AS (
    SELECT NOT EXISTS (SELECT 1 FROM c WHERE payload_filter IS NOT NULL) AS ok
  ), e AS (
    INSERT INTO events (id, type, body, bytes, occurred_at, idempotency_key, published_by, delivery_count)
    SELECT $1, $2, $3, $4, $5, $6, $7, (SELECT count(*) FROM c) FROM plain WHERE plain.ok
    RETURNING id
  ), d AS (
    INSERT INTO deliveries (event_id, subscription_id, event_type, trigger) SELECT e.id, c.id, $2, $8 FROM e, c
  )
  SELECT p.ok AS stored, (SELECT count(*)::int FROM c) AS deliveries,
    CASE WHEN p.ok THEN '[]'::json ELSE (SELECT json_agg(json_build_object('id', id, 'payload_filter', payload_filter, 'updated_at', updated_at)) FROM c) END AS candidates
  FROM plain p`;

type Query = (sql: string, params: unknown[]) => Promise<unknown>;

/** Publishing events: checks, idempotency, and fan-out to deliveries in the same statement or transaction. */
@Injectable()
export class EventsService {
  private readonly events: Repository<OutboundEvent>;
  private readonly deliveries: Repository<Delivery>;
  private readonly filters = new Map<string, (ctx: unknown) => { matched: boolean }>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly runtime: StoreRuntime,
    private readonly types: EventTypesService,
    readonly queue: DeliveryQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.events = dataSource.getRepository(OutboundEvent);
    this.deliveries = dataSource.getRepository(Delivery);
  }

  /** `POST /api/events`: the event and its deliveries are stored before this returns. */
  async publish(dto: PublishEventDto, by: string): Promise<PublishedEventDto> {
    const rules = await this.types.publishRules(dto.type);
    if (rules?.archived) throw HookhubError.badRequest(`The event type ${dto.type} is archived`, [{ field: 'type', errors: ['the event type is archived'] }]);
    if (rules?.validate && !rules.validate(dto.data)) {
      throw new HookhubError(ErrorCode.ValidationFailed, `The data does not match the schema of ${dto.type}`, schemaErrors(rules.validate.errors));
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
        ? await this.publishWithin(this.dataSource.manager, input, (sql, params) => queryPrepared(this.dataSource, this.runtime.isEmbedded, 'hookhub_event_fan_out', sql, params))
        : await this.dataSource.transaction((m) => this.publishWithin(m, input));
    if (result.deliveries > 0 && !result.duplicate) await this.queue.wake();
    return result;
  }

  /**
   * Stores an event and one delivery per matching enabled subscription inside the caller's transaction (so
   * Hookhub's own events commit with what caused them). Call {@link wake} after the commit.
   */
  async publishWithin(m: EntityManager, input: EventInput, fanOut: Query = (sql, params) => m.query(sql, params)): Promise<PublishedEventDto> {
    const dataJson = JSON.stringify(input.data);
    const bytes = Buffer.byteLength(dataJson);
    if (bytes > this.config.outbound.maxPayloadBytes) {
      throw new HookhubError(ErrorCode.PayloadTooLarge, `The data is ${bytes} bytes; at most ${this.config.outbound.maxPayloadBytes} are accepted`);
    }
    const id = randomUUID();
    if (input.idempotencyKey !== undefined) {
      const claimed = (await m.query(
        `INSERT INTO event_idempotency (key, event_id, expires_at) VALUES ($1, $2, now() + ($3::int * interval '1 second'))
         ON CONFLICT (key) DO UPDATE SET event_id = EXCLUDED.event_id, expires_at = EXCLUDED.expires_at
           WHERE event_idempotency.expires_at <= now()
         RETURNING event_id`,
        [input.idempotencyKey, id, IDEMPOTENCY_WINDOW_SECONDS],
      )) as unknown[];
      if (!claimed.length) {
        const first = (await m.query(
          `SELECT e.id, e.type, e.delivery_count FROM event_idempotency k JOIN events e ON e.id = k.event_id WHERE k.key = $1`,
          [input.idempotencyKey],
        )) as Array<{ id: string; type: string; delivery_count: number }>;
        if (first.length) return { id: first[0].id, type: first[0].type, deliveries: first[0].delivery_count, duplicate: true };
      }
    }
    const occurredAt = input.occurredAt ?? new Date();
    const [first] = (await fanOut(FAN_OUT_SQL, [
      id, input.type, eventBody(id, input.type, occurredAt, dataJson), bytes, occurredAt, input.idempotencyKey ?? null, input.publishedBy, 'auto', filterCandidates(input.type),
    ])) as Array<{ stored: boolean; deliveries: number; candidates: Array<{ id: string; payload_filter: unknown; updated_at: string }> }>;
    if (first.stored) return { id, type: input.type, deliveries: first.deliveries, duplicate: false };
    const ctx = { type: input.type, event: input.type, data: input.data };
    const targets = first.candidates
      .filter((c) => c.payload_filter === null || this.payloadFilter(c.id, new Date(c.updated_at), c.payload_filter)(ctx).matched)
      .map((c) => c.id);
    await this.insert(m, id, { ...input, occurredAt }, dataJson, bytes, targets, 'auto');
    return { id, type: input.type, deliveries: targets.length, duplicate: false };
  }

  /** Stores an event with one delivery to one subscription, already claimed by `workerId` (webhook tests). */
  async createClaimed(subscriptionId: string, input: EventInput, workerId: string, leaseMs: number, trigger: DeliveryTrigger): Promise<{ eventId: string; deliveryId: string; body: string }> {
    const id = randomUUID();
    const dataJson = JSON.stringify(input.data);
    const occurredAt = input.occurredAt ?? new Date();
    const deliveryId = randomUUID();
    await this.dataSource.transaction(async (m) => {
      await this.insert(m, id, { ...input, occurredAt }, dataJson, Buffer.byteLength(dataJson), [], trigger, 1);
      await m.query(
        `INSERT INTO deliveries (id, event_id, subscription_id, event_type, status, trigger, attempts, locked_by, locked_until)
         VALUES ($1, $2, $3, $4, 'running', $5, 1, $6, now() + ($7::int * interval '1 millisecond'))`,
        [deliveryId, id, subscriptionId, input.type, trigger, workerId, leaseMs],
      );
    });
    return { eventId: id, deliveryId, body: eventBody(id, input.type, occurredAt, dataJson) };
  }

  async wake(): Promise<void> {
    await this.queue.wake();
  }

  async list(query: ListEventsQueryDto): Promise<Page<EventDto>> {
    const qb = this.events.createQueryBuilder('e');
    if (query.type) qb.andWhere('lower(e.type) = lower(:type)', { type: query.type });
    return paginate(createdBetween(qb, 'e', query), 'e', query, toEventDto);
  }

  async get(id: string): Promise<EventDetailDto> {
    const event = isUuid(id) ? await this.events.findOneBy({ id }) : null;
    if (!event) throw HookhubError.notFound('Event', id);
    const deliveries = await this.deliveries.find({ where: { eventId: id }, order: { createdAt: 'ASC', id: 'ASC' }, take: 1000 });
    return { ...toEventDto(event), deliveries: deliveries.map(toDeliveryDto) };
  }

  /** Inserts the event and a delivery per target; `deliveryCount` when the caller adds deliveries itself. */
  private async insert(
    m: EntityManager, id: string, input: EventInput, dataJson: string, bytes: number, targets: string[], trigger: DeliveryTrigger, deliveryCount = targets.length,
  ): Promise<void> {
    const occurredAt = input.occurredAt ?? new Date();
    await m.query(
      `WITH e AS (
         INSERT INTO events (id, type, body, bytes, occurred_at, idempotency_key, published_by, delivery_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id)
       INSERT INTO deliveries (event_id, subscription_id, event_type, trigger)
       SELECT e.id, s, $2, $10 FROM e, unnest($9::uuid[]) AS s`,
      [id, input.type, eventBody(id, input.type, occurredAt, dataJson), bytes, occurredAt, input.idempotencyKey ?? null, input.publishedBy, deliveryCount, targets, trigger],
    );
  }

  private payloadFilter(id: string, updatedAt: Date, condition: unknown): (ctx: unknown) => { matched: boolean } {
    const key = `${id}:${updatedAt.getTime()}`;
    let compiled = this.filters.get(key);
    if (!compiled) {
      compiled = compileCondition(condition);
      if (this.filters.size > 10_000) this.filters.clear();
      this.filters.set(key, compiled);
    }
    return compiled;
  }
}
