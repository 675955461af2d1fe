import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Ajv, type ValidateFunction } from 'ajv';
import { randomUUID } from 'node:crypto';
import { BoundedCache, Clock, HookhubError, type Page, ajvLinearRegExp, isUuid } from '@hookhub/core';
import {
  type CreateEventTypeDto,
  type EventTypeDto,
  type ListEventTypesQueryDto,
  type UpdateEventTypeDto,
  toEventTypeDto,
} from '../dto/events.dto';
import type { EventType } from '../entities/event-type.entity';
import { BUILTIN_EVENT_TYPES } from '../event-types/builtin-event-types';
import { EventTypeStore } from '../stores/event-types.store';

/** What publishing an event of a type has to respect. */
export interface PublishRules {
  archived: boolean;
  validate: ValidateFunction | null;
}

const CACHE_MS = 2000;

/** Event types: CRUD, the built-in ones, and the JSON Schema check of published payloads. */
@Injectable()
export class EventTypesService implements OnApplicationBootstrap {
  /** Compiled schemas by their JSON text; each gets its own Ajv, so `$id`s of two versions cannot clash. */
  private readonly validators = new BoundedCache<string, ValidateFunction>({ maxEntries: 500 });
  /** Publish rules by lower-cased type name, for a short while (CACHE_MS): a busy type is looked up once per period. */
  private readonly rules = new BoundedCache<string, Promise<PublishRules | null>>({
    maxEntries: 1000,
    ttlMs: CACHE_MS,
    now: () => this.clock.nowMs(),
  });
  private readonly logger = new Logger('EventTypes');
  /** Ajv's notices ("unknown format ... ignored") go to the JSON log, not the console. */
  private readonly ajvLogger = {
    log: (...args: unknown[]) => this.logger.debug(args.map(String).join(' ')),
    warn: (...args: unknown[]) => this.logger.warn(args.map(String).join(' ')),
    error: (...args: unknown[]) => this.logger.error(args.map(String).join(' ')),
  };

  constructor(
    private readonly types: EventTypeStore,
    private readonly clock: Clock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.types.registerBuiltins(BUILTIN_EVENT_TYPES);
  }

  async create(dto: CreateEventTypeDto): Promise<EventTypeDto> {
    this.checkSchema(dto.schema);
    await this.ensureFree(dto.name);
    const id = randomUUID();
    await this.types.insert({ id, name: dto.name, description: dto.description ?? '', schema: dto.schema ?? null });
    this.rules.clear();
    return this.get(id);
  }

  async update(id: string, dto: UpdateEventTypeDto): Promise<EventTypeDto> {
    const type = await this.find(id);
    if (dto.name !== undefined && dto.name.toLowerCase() !== type.name.toLowerCase()) {
      if (type.builtin) throw HookhubError.conflict(`${type.name} is built in and cannot be renamed`);
      await this.ensureFree(dto.name);
    }
    if (dto.schema !== undefined) this.checkSchema(dto.schema);
    const changes: Partial<EventType> = {};
    if (dto.name !== undefined) changes.name = dto.name;
    if (dto.description !== undefined) changes.description = dto.description;
    if (dto.schema !== undefined) changes.schema = dto.schema;
    if (dto.archived !== undefined) changes.archived = dto.archived;
    if (Object.keys(changes).length) await this.types.update(id, changes);
    this.rules.clear();
    return this.get(id);
  }

  async remove(id: string): Promise<EventTypeDto> {
    const type = await this.find(id);
    if (type.builtin) throw HookhubError.conflict(`${type.name} is built in and cannot be deleted; archive it instead`);
    await this.types.delete(id);
    this.rules.clear();
    return toEventTypeDto(type);
  }

  async get(id: string): Promise<EventTypeDto> {
    return toEventTypeDto(await this.find(id));
  }

  async list(query: ListEventTypesQueryDto): Promise<Page<EventTypeDto>> {
    return this.types.page(query, toEventTypeDto);
  }

  /** The rules for publishing `name`: null when the type is not registered (any payload is accepted). */
  async publishRules(name: string): Promise<PublishRules | null> {
    const key = name.toLowerCase();
    const hit = this.rules.get(key);
    if (hit) return hit;
    // One lookup however many publishes of the type arrive while it runs (a busy type's entry expires under load).
    const rules = this.types
      .findByLowerName(key)
      .then((type) =>
        type ? { archived: type.archived, validate: type.schema ? this.validator(type.schema) : null } : null,
      );
    this.rules.set(key, rules);
    rules.catch(() => {
      if (this.rules.get(key) === rules) this.rules.delete(key);
    });
    return rules;
  }

  private async find(id: string): Promise<EventType> {
    const type = isUuid(id) ? await this.types.findById(id) : null;
    if (!type) throw HookhubError.notFound('Event type', id);
    return type;
  }

  private async ensureFree(name: string): Promise<void> {
    if (await this.types.nameTaken(name)) throw HookhubError.conflict(`An event type named ${name} already exists`);
  }

  private validator(schema: object): ValidateFunction {
    // Schema patterns run on RE2: a catastrophic pattern cannot stall the process.
    return this.validators.getOrSet(JSON.stringify(schema), () =>
      new Ajv({ allErrors: true, strict: false, code: { regExp: ajvLinearRegExp }, logger: this.ajvLogger }).compile(
        schema,
      ),
    );
  }

  private checkSchema(schema: Record<string, unknown> | null | undefined): void {
    if (!schema) return;
    try {
      this.validator(schema);
    } catch (err) {
      throw HookhubError.badRequest(`The schema is not a valid JSON Schema: ${(err as Error).message}`, [
        { field: 'schema', errors: [(err as Error).message] },
      ]);
    }
  }
}
