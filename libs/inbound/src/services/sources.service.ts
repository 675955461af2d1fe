import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type Repository } from 'typeorm';
import { ErrorCode, HookhubError, type Page, SecretBox, cidrProblem, containsPattern, isUuid, paginate, parsePath, standardWebhooksKey } from '@hookhub/core';
import { QueueNotifier } from '@hookhub/store';
import type { CreateSourceDto, ListSourcesQueryDto, SourceDto, UpdateSourceDto } from '../dto/sources.dto';
import { Source } from '../entities/source.entity';
import { VERIFIERS } from '../verifiers';

/** Wake-up name when sources or rules change, so every process drops its cached copy. */
export const SOURCES_CHANGED = 'inbound:sources-changed';

export function toSourceDto(s: Source): SourceDto {
  return {
    id: s.id,
    slug: s.slug,
    name: s.name,
    description: s.description,
    enabled: s.enabled,
    url_path: `/hooks/${s.slug}`,
    scheme: s.scheme,
    unverified: s.scheme === 'none',
    verification: s.verification,
    secret_count: s.secrets.length,
    ip_allow: s.ipAllow,
    rate_limit: s.rateLimit,
    body_limit: s.bodyLimit,
    methods: s.methods,
    content_types: s.contentTypes,
    replay_window_seconds: s.replayWindowSeconds,
    dedup_window_seconds: s.dedupWindowSeconds,
    dedup: s.dedup,
    dedup_header: s.dedupHeader,
    dedup_field: s.dedupField,
    event_header: s.eventHeader,
    event_field: s.eventField,
    response_mode: s.responseMode,
    sync_timeout_seconds: s.syncTimeoutSeconds,
    match_mode: s.matchMode,
    dispatch: s.dispatch,
    id_field: s.idField,
    by_id_programs: s.byIdPrograms,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

export function secretContext(sourceId: string): string {
  return `source:${sourceId}`;
}

/** Sources: CRUD with validation; secrets are sealed with the master key and never returned. */
@Injectable()
export class SourcesService implements OnModuleDestroy {
  private readonly sources: Repository<Source>;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly dataSource: DataSource,
    private readonly box: SecretBox,
    private readonly notifier: QueueNotifier,
  ) {
    this.sources = dataSource.getRepository(Source);
    this.unsubscribe = notifier.subscribe(SOURCES_CHANGED, () => this.listeners.forEach((l) => l()));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /** Called when any process changed a source or rule. */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  async changed(): Promise<void> {
    this.listeners.forEach((l) => l());
    await this.notifier.notify(SOURCES_CHANGED);
  }

  async create(dto: CreateSourceDto): Promise<SourceDto> {
    this.validate(dto);
    if (await this.sources.findOneBy({ slug: dto.slug })) throw HookhubError.conflict(`A source with slug ${dto.slug} already exists`);
    const id = randomUUID();
    const entity = this.sources.create({ id, ...this.toColumns(dto, id) } as Source);
    await this.sources.insert(entity);
    await this.changed();
    return toSourceDto(await this.sources.findOneByOrFail({ id }));
  }

  async update(id: string, dto: UpdateSourceDto): Promise<SourceDto> {
    const source = await this.find(id);
    const merged = { ...this.toDtoShape(source), ...dto } as CreateSourceDto;
    this.validate(merged, dto.secrets === undefined ? source.secrets.length : undefined);
    if (dto.slug && dto.slug !== source.slug && (await this.sources.findOneBy({ slug: dto.slug }))) {
      throw HookhubError.conflict(`A source with slug ${dto.slug} already exists`);
    }
    // Secrets are sealed to the stored row's id, whatever spelling of it the caller used.
    await this.sources.update({ id: source.id }, this.toColumns(dto, source.id));
    await this.changed();
    return toSourceDto(await this.sources.findOneByOrFail({ id }));
  }

  async setEnabled(id: string, enabled: boolean): Promise<SourceDto> {
    await this.find(id);
    await this.sources.update({ id }, { enabled });
    await this.changed();
    return toSourceDto(await this.sources.findOneByOrFail({ id }));
  }

  async get(id: string): Promise<SourceDto> {
    return toSourceDto(await this.find(id));
  }

  async list(query: ListSourcesQueryDto): Promise<Page<SourceDto>> {
    const qb = this.sources.createQueryBuilder('s');
    if (query.q) qb.andWhere('(s.slug ILIKE :q OR s.name ILIKE :q)', { q: containsPattern(query.q) });
    return paginate(qb, 's', query, toSourceDto);
  }

  async remove(id: string): Promise<SourceDto> {
    const source = await this.find(id);
    await this.sources.delete({ id });
    await this.changed();
    return toSourceDto(source);
  }

  async find(id: string): Promise<Source> {
    const source = isUuid(id) ? await this.sources.findOneBy({ id }) : null;
    if (!source) throw HookhubError.notFound('Source', id);
    return source;
  }

  findBySlug(slug: string): Promise<Source | null> {
    return this.sources.findOneBy({ slug });
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
    if (dto.scheme === 'basic') (dto.secrets ?? []).forEach((s, i) => !s.includes(':') && add(`secrets.${i}`, 'basic secrets are user:password'));
    if (dto.scheme === 'standard-webhooks') {
      (dto.secrets ?? []).forEach((s, i) => {
        if (s.startsWith('whsec_') && standardWebhooksKey(s).length < 16) add(`secrets.${i}`, 'a whsec_ secret must hold at least 16 bytes of base64');
      });
    }
    (dto.ip_allow ?? []).forEach((entry, i) => {
      const problem = cidrProblem(entry);
      if (problem) add(`ip_allow.${i}`, problem);
    });
    for (const field of ['dedup_field', 'event_field'] as const) {
      const path = dto[field];
      if (path) {
        try {
          // Read from the parsed body: `event` alone would never match anything.
          if (parsePath(path)[0] !== 'body') add(field, `${field} is a path in the body and starts with "body." (e.g. "body.${path}")`);
        } catch (err) {
          add(field, (err as Error).message);
        }
      }
    }
    if (dto.dedup === 'body' && dto.dedup_window_seconds === 0) add('dedup', 'dedup "body" needs a dedup_window_seconds above 0');
    if (problems.length) throw new HookhubError(ErrorCode.ValidationFailed, 'The source definition is not valid', problems);
  }

  private toDtoShape(s: Source): Partial<CreateSourceDto> {
    return { slug: s.slug, scheme: s.scheme, ip_allow: s.ipAllow, dedup_field: s.dedupField, event_field: s.eventField, dedup: s.dedup, dedup_window_seconds: s.dedupWindowSeconds };
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
    set('secrets', dto.secrets?.map((s) => this.box.seal(s, secretContext(id))));
    set('ipAllow', dto.ip_allow);
    set('rateLimit', dto.rate_limit);
    set('bodyLimit', dto.body_limit);
    set('methods', dto.methods?.map((m) => m.toUpperCase()));
    set('contentTypes', dto.content_types?.map((t) => t.toLowerCase()));
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
    return c;
  }
}
