import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { randomUUID } from 'node:crypto';
import { DataSource, type Repository } from 'typeorm';
import { HookhubError, type Page, ajvLinearRegExp, containsPattern, isUuid, paginate } from '@hookhub/core';
import type { CreateEventTypeDto, EventTypeDto, ListEventTypesQueryDto, UpdateEventTypeDto } from '../dto/events.dto';
import { EventType } from '../entities/event-type.entity';

/** The events Hookhub publishes itself, registered at boot. */
export const BUILTIN_EVENT_TYPES: ReadonlyArray<{ name: string; description: string }> = [
  { name: 'task.succeeded', description: 'A task run exited with code 0.' },
  { name: 'task.failed', description: 'A task run failed: non-zero exit, killed, could not start, or its worker stopped.' },
  { name: 'task.timed_out', description: 'A task run was stopped at its program timeout.' },
  { name: 'source.rejected_burst', description: 'A source refused many requests in a short time (bad signatures, blocked addresses, rate limits).' },
  { name: 'webhook.disabled', description: 'Hookhub disabled a webhook: it answered 410 Gone, or every attempt failed for too long.' },
  { name: 'webhook.test', description: 'Sent by POST /api/webhooks/{id}/test to that webhook only.' },
];

/** What publishing an event of a type has to respect. */
export interface PublishRules {
  archived: boolean;
  validate: ValidateFunction | null;
}

const CACHE_MS = 2000;

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

/** Schema errors as validation details: `data.status: must be equal to one of the allowed values`. */
export function schemaErrors(errors: ErrorObject[] | null | undefined): Array<{ field: string; errors: string[] }> {
  return (errors ?? []).map((e) => ({ field: `data${e.instancePath.replace(/\//g, '.')}`, errors: [e.message ?? 'is not valid'] }));
}

/** Event types: CRUD, the built-in ones, and the JSON Schema check of published payloads. */
@Injectable()
export class EventTypesService implements OnApplicationBootstrap {
  private readonly types: Repository<EventType>;
  /** Compiled schemas by their JSON text; each gets its own Ajv, so `$id`s of two versions cannot clash. */
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly rules = new Map<string, { at: number; rules: Promise<PublishRules | null> }>();
  private readonly logger = new Logger('EventTypes');
  /** Ajv's notices ("unknown format ... ignored") go to the JSON log, not the console. */
  private readonly ajvLogger = {
    log: (...args: unknown[]) => this.logger.debug(args.map(String).join(' ')),
    warn: (...args: unknown[]) => this.logger.warn(args.map(String).join(' ')),
    error: (...args: unknown[]) => this.logger.error(args.map(String).join(' ')),
  };

  constructor(private readonly dataSource: DataSource) {
    this.types = dataSource.getRepository(EventType);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO event_types (name, description, builtin)
       SELECT name, description, true FROM jsonb_to_recordset($1::jsonb) AS t(name text, description text)
       ON CONFLICT ((lower(name))) DO UPDATE SET builtin = true`,
      [JSON.stringify(BUILTIN_EVENT_TYPES)],
    );
  }

  async create(dto: CreateEventTypeDto): Promise<EventTypeDto> {
    this.checkSchema(dto.schema);
    await this.ensureFree(dto.name);
    const id = randomUUID();
    await this.types.insert(this.types.create({ id, name: dto.name, description: dto.description ?? '', schema: dto.schema ?? null }));
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
    if (Object.keys(changes).length) await this.types.update({ id }, changes);
    this.rules.clear();
    return this.get(id);
  }

  async remove(id: string): Promise<EventTypeDto> {
    const type = await this.find(id);
    if (type.builtin) throw HookhubError.conflict(`${type.name} is built in and cannot be deleted; archive it instead`);
    await this.types.delete({ id });
    this.rules.clear();
    return toEventTypeDto(type);
  }

  async get(id: string): Promise<EventTypeDto> {
    return toEventTypeDto(await this.find(id));
  }

  async list(query: ListEventTypesQueryDto): Promise<Page<EventTypeDto>> {
    const qb = this.types.createQueryBuilder('t');
    if (!query.include_archived) qb.andWhere('t.archived = false');
    if (query.q) qb.andWhere('(t.name ILIKE :q OR t.description ILIKE :q)', { q: containsPattern(query.q) });
    return paginate(qb, 't', query, toEventTypeDto);
  }

  /** The rules for publishing `name`: null when the type is not registered (any payload is accepted). */
  async publishRules(name: string): Promise<PublishRules | null> {
    const key = name.toLowerCase();
    const hit = this.rules.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.rules;
    // One lookup however many publishes of the type arrive while it runs (a busy type's entry expires under load).
    const rules = this.types
      .createQueryBuilder('t')
      .where('lower(t.name) = :key', { key })
      .getOne()
      .then((type) => (type ? { archived: type.archived, validate: type.schema ? this.validator(type.schema) : null } : null));
    if (this.rules.size > 1000) this.rules.clear();
    const entry = { at: Date.now(), rules };
    this.rules.set(key, entry);
    rules.catch(() => {
      if (this.rules.get(key) === entry) this.rules.delete(key);
    });
    return rules;
  }

  private async find(id: string): Promise<EventType> {
    const type = isUuid(id) ? await this.types.findOneBy({ id }) : null;
    if (!type) throw HookhubError.notFound('Event type', id);
    return type;
  }

  private async ensureFree(name: string): Promise<void> {
    const taken = await this.types.createQueryBuilder('t').where('lower(t.name) = lower(:name)', { name }).getExists();
    if (taken) throw HookhubError.conflict(`An event type named ${name} already exists`);
  }

  private validator(schema: object): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.validators.get(key);
    if (!validate) {
      // Schema patterns run on RE2: a catastrophic pattern cannot stall the process.
      validate = new Ajv({ allErrors: true, strict: false, code: { regExp: ajvLinearRegExp }, logger: this.ajvLogger }).compile(schema);
      if (this.validators.size > 500) this.validators.clear();
      this.validators.set(key, validate);
    }
    return validate;
  }

  private checkSchema(schema: Record<string, unknown> | null | undefined): void {
    if (!schema) return;
    try {
      this.validator(schema);
    } catch (err) {
      throw HookhubError.badRequest(`The schema is not a valid JSON Schema: ${(err as Error).message}`, [{ field: 'schema', errors: [(err as Error).message] }]);
    }
  }
}
