import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ErrorCode, HookhubError, type Page, SecretBox, cidrProblem, isUuid, parsePath } from '@hookhub/core';
import { QueueNotifier } from '@hookhub/store';
import {
  type CreateSourceDto,
  type ListSourcesQueryDto,
  type SourceDto,
  type UpdateSourceDto,
  toSourceDto,
} from '../dto/sources.dto';
import type { Source } from '../entities/source.entity';
import { answerProblems } from '../answers/answer-template';
import { HubRoutes } from '../routing/hub-routes';
import { SourceStore } from '../stores/source.store';
import { VERIFIERS } from '../verifiers';

/** Wake-up name when sources or rules change, so every process drops its cached copy. */
export const SOURCES_CHANGED = 'inbound:sources-changed';

export function secretContext(sourceId: string): string {
  return `source:${sourceId}`;
}

/** Sources: CRUD with validation; secrets are sealed with the master key and never returned. */
@Injectable()
export class SourcesService implements OnModuleDestroy {
  private readonly listeners = new Set<() => void | Promise<void>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly sources: SourceStore,
    private readonly box: SecretBox,
    private readonly notifier: QueueNotifier,
    private readonly routes: HubRoutes,
  ) {
    this.unsubscribe = notifier.subscribe(SOURCES_CHANGED, () => this.listeners.forEach((l) => void l()));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /**
   * Called when any process changed a source or rule. In the process that made the change, the answer waits
   * for what the listener returns (the aliases are reloaded before the change is answered).
   */
  onChange(listener: () => void | Promise<void>): void {
    this.listeners.add(listener);
  }

  async changed(): Promise<void> {
    for (const listener of this.listeners) await listener();
    await this.notifier.notify(SOURCES_CHANGED);
  }

  async create(dto: CreateSourceDto): Promise<SourceDto> {
    this.validate(dto);
    if (await this.sources.findBySlug(dto.slug))
      throw HookhubError.conflict(`A source with slug ${dto.slug} already exists`);
    await this.checkAliasesFree(dto.aliases, null);
    const id = randomUUID();
    await this.sources.insert({ id, ...this.toColumns(dto, id) } as Source);
    await this.changed();
    return toSourceDto(await this.sources.getById(id));
  }

  async update(id: string, dto: UpdateSourceDto): Promise<SourceDto> {
    const source = await this.find(id);
    const merged = { ...this.toDtoShape(source), ...dto } as CreateSourceDto;
    this.validate(merged, dto.secrets === undefined ? source.secrets.length : undefined);
    if (dto.slug && dto.slug !== source.slug && (await this.sources.findBySlug(dto.slug))) {
      throw HookhubError.conflict(`A source with slug ${dto.slug} already exists`);
    }
    await this.checkAliasesFree(dto.aliases, source.id);
    // Secrets are sealed to the stored row's id, whatever spelling of it the caller used.
    await this.sources.update(source.id, this.toColumns(dto, source.id));
    await this.changed();
    return toSourceDto(await this.sources.getById(id));
  }

  async setEnabled(id: string, enabled: boolean): Promise<SourceDto> {
    await this.find(id);
    await this.sources.update(id, { enabled });
    await this.changed();
    return toSourceDto(await this.sources.getById(id));
  }

  async get(id: string): Promise<SourceDto> {
    return toSourceDto(await this.find(id));
  }

  async list(query: ListSourcesQueryDto): Promise<Page<SourceDto>> {
    return this.sources.list(query, toSourceDto);
  }

  async remove(id: string): Promise<SourceDto> {
    const source = await this.find(id);
    await this.sources.delete(id);
    await this.changed();
    return toSourceDto(source);
  }

  async find(id: string): Promise<Source> {
    const source = isUuid(id) ? await this.sources.findById(id) : null;
    if (!source) throw HookhubError.notFound('Source', id);
    return source;
  }

  findBySlug(slug: string): Promise<Source | null> {
    return this.sources.findBySlug(slug);
  }

  /** The plaintext secrets of a source, for its verifier. */
  openSecrets(source: Source): string[] {
    return source.secrets.map((s) => this.box.open(s, secretContext(source.id)));
  }

  /** Throws a validation error (per-field details) when `dto` is not a valid source definition. */
  validate(dto: CreateSourceDto, existingSecrets?: number): void {
    const problems: Array<{ field: string; errors: string[] }> = [];
    const add = (field: string, error: string) => problems.push({ field, errors: [error] });
    const verifier = VERIFIERS[dto.scheme];
    const secretCount = dto.secrets?.length ?? existingSecrets ?? 0;
    if (verifier.needsSecret && secretCount === 0) add('secrets', `scheme ${dto.scheme} needs at least one secret`);
    (dto.secrets ?? []).forEach((secret, i) => {
      const problem = verifier.secretProblem?.(secret);
      if (problem) add(`secrets.${i}`, problem);
    });
    (dto.ip_allow ?? []).forEach((entry, i) => {
      const problem = cidrProblem(entry);
      if (problem) add(`ip_allow.${i}`, problem);
    });
    for (const field of ['dedup_field', 'event_field'] as const) {
      const path = dto[field];
      if (path) {
        try {
          // Read from the parsed body: `event` alone would never match anything.
          if (parsePath(path)[0] !== 'body')
            add(field, `${field} is a path in the body and starts with "body." (e.g. "body.${path}")`);
        } catch (err) {
          add(field, (err as Error).message);
        }
      }
    }
    (dto.aliases ?? []).forEach((alias, i) => {
      const problem = alias.split('/').some((part) => part === '.' || part === '..')
        ? 'an alias has no . or .. segment'
        : this.routes.conflict(alias, dto.methods ?? ['POST']);
      if (problem) add(`aliases.${i}`, problem);
    });
    if (new Set(dto.aliases ?? []).size !== (dto.aliases ?? []).length) add('aliases', 'an alias is listed twice');
    for (const p of dto.answer ? answerProblems(dto.answer) : []) add(p.field, p.error);
    if (dto.dedup === 'body' && dto.dedup_window_seconds === 0)
      add('dedup', 'dedup "body" needs a dedup_window_seconds above 0');
    if (problems.length)
      throw new HookhubError(ErrorCode.ValidationFailed, 'The source definition is not valid', problems);
  }

  private toDtoShape(s: Source): Partial<CreateSourceDto> {
    return {
      slug: s.slug,
      scheme: s.scheme,
      ip_allow: s.ipAllow,
      dedup_field: s.dedupField,
      event_field: s.eventField,
      dedup: s.dedup,
      dedup_window_seconds: s.dedupWindowSeconds,
      methods: s.methods,
      aliases: s.aliases,
    };
  }

  /** Refuses (409) aliases another source already has. */
  private async checkAliasesFree(aliases: string[] | undefined, exceptId: string | null): Promise<void> {
    if (!aliases?.length) return;
    const holders = await this.sources.holdingAliases(aliases, exceptId);
    if (!holders.length) return;
    const taken = holders.flatMap((h) => h.aliases.filter((a) => aliases.includes(a)).map((a) => `${a} (${h.slug})`));
    throw HookhubError.conflict(`Another source already has the alias ${taken.join(', ')}`);
  }

  private toColumns(dto: Partial<CreateSourceDto>, id: string): Partial<Source> {
    const c: Partial<Source> = {};
    const set = <K extends keyof Source>(key: K, value: Source[K] | undefined) => {
      if (value !== undefined) c[key] = value;
    };
    set('slug', dto.slug);
    set('name', dto.name);
    set('description', dto.description);
    set('enabled', dto.enabled);
    set('scheme', dto.scheme);
    set('verification', dto.verification ? { ...dto.verification } : undefined);
    set(
      'secrets',
      dto.secrets?.map((s) => this.box.seal(s, secretContext(id))),
    );
    set('ipAllow', dto.ip_allow);
    set('rateLimit', dto.rate_limit);
    set('bodyLimit', dto.body_limit);
    set(
      'methods',
      dto.methods?.map((m) => m.toUpperCase()),
    );
    set(
      'contentTypes',
      dto.content_types?.map((t) => t.toLowerCase()),
    );
    set('replayWindowSeconds', dto.replay_window_seconds);
    set('dedupWindowSeconds', dto.dedup_window_seconds);
    set('dedup', dto.dedup);
    set('dedupHeader', dto.dedup_header === undefined ? undefined : dto.dedup_header?.toLowerCase() || null);
    set('dedupField', dto.dedup_field === undefined ? undefined : dto.dedup_field || null);
    set('eventHeader', dto.event_header === undefined ? undefined : dto.event_header?.toLowerCase() || null);
    set('eventField', dto.event_field === undefined ? undefined : dto.event_field || null);
    set('responseMode', dto.response_mode);
    set('syncTimeoutSeconds', dto.sync_timeout_seconds);
    set('matchMode', dto.match_mode);
    set('dispatch', dto.dispatch);
    set('idField', dto.id_field);
    set('byIdPrograms', dto.by_id_programs);
    set('aliases', dto.aliases);
    set('answer', dto.answer === undefined ? undefined : dto.answer ? { ...dto.answer } : null);
    return c;
  }
}
