import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  APP_CONFIG,
  type AppConfig,
  BoundedCache,
  Clock,
  ErrorCode,
  HookhubError,
  type Page,
  SecretBox,
  conditionProblem,
  isUuid,
} from '@hookhub/core';
import type {
  CreateWebhookDto,
  ListWebhooksQueryDto,
  PatchWebhookDto,
  RotateSecretDto,
  SecretRotatedDto,
  WebhookCreatedDto,
  WebhookDto,
} from '../dto/webhooks.dto';
import type { SealedSecret, Webhook } from '../entities/webhook.entity';
import { AddressGuard, BlockedAddressError } from '../net/address-guard';
import { eventFilterProblem } from '../policy/event-filter';
import { customHeaderProblems } from '../policy/custom-headers';
import {
  DEFAULT_SIGNATURE_FORMAT,
  SIGNERS,
  type SignOptions,
  type SignatureFormat,
  generateSecret,
  signatureHeaderNames,
} from '../signing/signing';
import { WebhookStore } from '../stores/webhooks.store';
import { PAYLOAD_FILTER_ROOTS } from '../webhooks/payload-filter';
import { headerContext, isLive, secretContext } from '../webhooks/secrets';

type Problem = { field: string; errors: string[] };

/** A webhook with its plaintext signing secrets (newest first) and custom headers, as the deliverer needs it. */
export interface ActiveWebhook {
  webhook: Webhook;
  secrets: string[];
  headers: Record<string, string>;
  /** When the soonest secret expires (the cache must be refreshed then). */
  refreshAt: number;
}

/** Webhooks: CRUD with validation, address checks, sealed secrets and rotation. */
@Injectable()
export class WebhooksService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Webhooks');
  /** Webhooks with their open secrets, by id, as of their `updated_at`. */
  private readonly cache = new BoundedCache<string, ActiveWebhook & { updatedAt: number }>({ maxEntries: 10_000 });

  constructor(
    private readonly webhooks: WebhookStore,
    private readonly box: SecretBox,
    private readonly guard: AddressGuard,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const sealed = await this.sealLegacyHeaders();
    if (sealed)
      this.logger.log(`sealed the custom header values of ${sealed} webhook(s) stored in clear by an earlier version`);
  }

  /** Seals header values written in clear before they were secrets (rows with `headers_sealed = false`). */
  sealLegacyHeaders(): Promise<number> {
    return this.webhooks.sealClearHeaders((id, headers) => this.sealHeaders(id, headers));
  }

  toDto(s: Webhook): WebhookDto {
    const schedule = s.retrySchedule ?? this.config.outbound.retrySchedule;
    const now = this.clock.nowMs();
    return {
      id: s.id,
      url: s.url,
      name: s.name,
      description: s.description,
      events: s.eventFilters,
      payload_filter: s.payloadFilter ?? null,
      header_names: Object.keys(s.headers).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())),
      timeout_ms: s.timeoutMs,
      retry_schedule: schedule,
      retry_schedule_default: s.retrySchedule === null,
      retry_enabled: schedule.length > 0,
      max_in_flight: s.maxInFlight,
      max_per_second: s.maxPerSecond,
      signature_format: s.signatureFormat,
      signature_options: {
        header_prefix: s.signatureOptions.headerPrefix,
        header: s.signatureOptions.header,
        event_header: s.signatureOptions.eventHeader,
      },
      body_format: s.bodyFormat,
      secrets: s.secrets
        .filter((x) => isLive(x, now))
        .map((x) => ({ created_at: x.created_at, expires_at: x.expires_at })),
      enabled: s.enabled,
      disabled_reason: s.disabledReason,
      disabled_at: s.disabledAt?.toISOString() ?? null,
      last_error: s.lastError,
      last_error_at: s.lastErrorAt?.toISOString() ?? null,
      last_success_at: s.lastSuccessAt?.toISOString() ?? null,
      failing_since: s.failingSince?.toISOString() ?? null,
      created_by: s.createdBy,
      created_at: s.createdAt.toISOString(),
      updated_at: s.updatedAt.toISOString(),
    };
  }

  async create(dto: CreateWebhookDto, by: string): Promise<WebhookCreatedDto> {
    const id = randomUUID();
    const columns = await this.columns(dto, null, id);
    const secret = dto.secret ?? generateSecret();
    this.checkSecret(columns.signatureFormat ?? DEFAULT_SIGNATURE_FORMAT, secret);
    await this.webhooks.insert({ ...columns, id, secrets: [this.sealed(id, secret, null)], createdBy: by });
    return { ...this.toDto(await this.find(id)), secret };
  }

  /** PUT: every field as given, the rest back to defaults; the secrets stay. */
  async replace(id: string, dto: CreateWebhookDto): Promise<WebhookDto> {
    const current = await this.find(id);
    if (dto.secret !== undefined)
      throw HookhubError.badRequest(
        'The secret cannot be set by an update; rotate it with POST /api/webhooks/{id}/secret/rotate',
        [{ field: 'secret', errors: ['use the rotate endpoint'] }],
      );
    // Headers are sealed to the stored row's id, whatever spelling of it the caller used.
    const columns = await this.columns(dto, null, current.id);
    await this.webhooks.update(id, { ...columns, ...this.enabledChange(current, columns.enabled ?? true) });
    return this.get(id);
  }

  /** PATCH: only the given fields change. */
  async patch(id: string, dto: PatchWebhookDto): Promise<WebhookDto> {
    const current = await this.find(id);
    const columns = await this.columns(dto, current, current.id);
    const enabled = dto.enabled === undefined ? {} : this.enabledChange(current, dto.enabled);
    await this.webhooks.update(id, { ...columns, ...enabled });
    return this.get(id);
  }

  async toggle(id: string): Promise<WebhookDto> {
    const current = await this.find(id);
    await this.webhooks.update(id, this.enabledChange(current, !current.enabled));
    return this.get(id);
  }

  async remove(id: string): Promise<WebhookDto> {
    const current = await this.find(id);
    await this.webhooks.delete(id);
    this.cache.delete(id);
    return this.toDto(current);
  }

  async get(id: string): Promise<WebhookDto> {
    return this.toDto(await this.find(id));
  }

  async list(query: ListWebhooksQueryDto): Promise<Page<WebhookDto>> {
    return this.webhooks.page(query, (s) => this.toDto(s));
  }

  /** A new secret signs from now on; the previous ones keep signing for the grace period, then stop. */
  async rotateSecret(id: string, dto: RotateSecretDto): Promise<SecretRotatedDto> {
    const grace = dto.grace_seconds ?? this.config.outbound.rotationGraceSeconds;
    const secret = dto.secret ?? generateSecret();
    this.checkSecret((await this.find(id)).signatureFormat, secret);
    const expiresAt = new Date(this.clock.nowMs() + grace * 1000).toISOString();
    const found = await this.webhooks.updateSecrets(id, (secrets, rowId) => {
      // The previous secrets sign until the grace period ends (or sooner, if they were already expiring).
      const now = this.clock.nowMs();
      const kept =
        grace === 0
          ? []
          : secrets
              .filter((s) => isLive(s, now))
              .map((s) => ({
                ...s,
                expires_at: s.expires_at && Date.parse(s.expires_at) < Date.parse(expiresAt) ? s.expires_at : expiresAt,
              }))
              .slice(0, 4);
      return [this.sealed(rowId, secret, null), ...kept];
    });
    if (!found) throw HookhubError.notFound('Webhook', id);
    this.cache.delete(id);
    return { secret, previous_expires_at: grace > 0 ? expiresAt : null, webhook: await this.get(id) };
  }

  async find(id: string): Promise<Webhook> {
    const webhook = isUuid(id) ? await this.webhooks.findById(id) : null;
    if (!webhook) throw HookhubError.notFound('Webhook', id);
    return webhook;
  }

  /**
   * The webhook with its open secrets, cached while its `updated_at` is unchanged (the claim returns
   * it), so a delivery does not decrypt on every attempt. Null when it was deleted.
   */
  async active(id: string, updatedAt?: Date): Promise<ActiveWebhook | null> {
    const hit = this.cache.get(id);
    if (hit && updatedAt && hit.updatedAt === updatedAt.getTime() && this.clock.nowMs() < hit.refreshAt) return hit;
    const webhook = await this.webhooks.findById(id);
    if (!webhook) {
      this.cache.delete(id);
      return null;
    }
    const now = this.clock.nowMs();
    const live = webhook.secrets.filter((s) => isLive(s, now));
    const entry = {
      webhook,
      secrets: live.map((s) => this.box.open(s.sealed, secretContext(id))),
      headers: this.openHeaders(webhook),
      refreshAt: Math.min(
        Number.MAX_SAFE_INTEGER,
        ...live.filter((s) => s.expires_at).map((s) => Date.parse(s.expires_at as string)),
      ),
      updatedAt: webhook.updatedAt.getTime(),
    };
    this.cache.set(id, entry);
    return entry;
  }

  /** Why Hookhub may not send to `url`: not http(s), or its host resolves to a refused address. Null when it may. */
  async urlProblem(raw: string): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return `${raw} is not a valid URL`;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'the URL must be http or https';
    if (url.username || url.password) return 'put credentials in a custom header, not in the URL';
    try {
      await this.guard.resolve(url.hostname);
    } catch (err) {
      if (err instanceof BlockedAddressError) return err.message;
      return `the host ${url.hostname} could not be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    return null;
  }

  private enabledChange(current: Webhook, enabled: boolean): Partial<Webhook> {
    if (enabled === current.enabled) return {};
    return enabled
      ? { enabled: true, disabledReason: null, disabledAt: null, failingSince: null }
      : { enabled: false, disabledReason: null, disabledAt: this.clock.now() };
  }

  private sealHeaders(id: string, headers: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name, this.box.seal(value, headerContext(id, name))]),
    );
  }

  /** The custom headers in clear (a row from before sealing holds them in clear already). */
  private openHeaders(s: Webhook): Record<string, string> {
    if (!s.headersSealed) return { ...s.headers };
    return Object.fromEntries(
      Object.entries(s.headers).map(([name, value]) => [name, this.box.open(value, headerContext(s.id, name))]),
    );
  }

  /** Refuses (400, on `secret`) a secret the webhook's signature format cannot sign with. */
  private checkSecret(format: SignatureFormat, secret: string): void {
    const problem = SIGNERS[format].secretProblem?.(secret);
    if (problem)
      throw new HookhubError(ErrorCode.ValidationFailed, 'The secret cannot sign in this format', [
        { field: 'secret', errors: [problem] },
      ]);
  }

  private sealed(id: string, secret: string, expiresAt: string | null): SealedSecret {
    return {
      sealed: this.box.seal(secret, secretContext(id)),
      created_at: this.clock.now().toISOString(),
      expires_at: expiresAt,
    };
  }

  /** Validates a create/replace (current null) or a patch (current given) and maps it to columns. */
  /**
   * The headers after a create/replace (the given ones) or a patch (the current ones, with the given names
   * set or, when null, removed), sealed; and the headers to validate, with a stand-in for kept values.
   */
  private headerChange(
    id: string,
    given: Record<string, string | null>,
    current: Webhook | null,
  ): { sealed: Record<string, string>; check: Record<string, unknown> } {
    const sealed: Record<string, string> = current
      ? current.headersSealed
        ? { ...current.headers }
        : this.sealHeaders(id, current.headers)
      : {};
    const check: Record<string, unknown> = Object.fromEntries(Object.keys(sealed).map((name) => [name, 'kept']));
    for (const [name, value] of Object.entries(given)) {
      for (const existing of Object.keys(sealed)) {
        if (existing.toLowerCase() === name.toLowerCase()) {
          delete sealed[existing];
          delete check[existing];
        }
      }
      if (value === null && current) continue;
      check[name] = value;
      if (typeof value === 'string') sealed[name] = this.box.seal(value, headerContext(id, name));
    }
    return { sealed, check };
  }

  private async columns(
    dto: CreateWebhookDto | PatchWebhookDto,
    current: Webhook | null,
    id: string,
  ): Promise<Partial<Webhook>> {
    const problems: Problem[] = [];
    const out: Partial<Webhook> = {};
    const full = current === null;
    if (dto.url !== undefined) {
      const problem = await this.urlProblem(dto.url);
      if (problem) problems.push({ field: 'url', errors: [problem] });
      out.url = dto.url;
    }
    if (dto.events !== undefined) {
      const errors = dto.events.map(eventFilterProblem).filter((p): p is string => p !== null);
      if (errors.length) problems.push({ field: 'events', errors });
      out.eventFilters = [...new Set(dto.events.map((e) => e.toLowerCase()))];
    }
    if (dto.payload_filter !== undefined || full) {
      const filter = dto.payload_filter ?? null;
      const problem = filter === null ? null : conditionProblem(filter, { roots: PAYLOAD_FILTER_ROOTS });
      if (problem) problems.push({ field: 'payload_filter', errors: [problem] });
      out.payloadFilter = filter as object | boolean | null;
    }
    const format = dto.signature_format ?? current?.signatureFormat ?? DEFAULT_SIGNATURE_FORMAT;
    const options: SignOptions =
      dto.signature_options !== undefined
        ? {
            headerPrefix: dto.signature_options.header_prefix,
            header: dto.signature_options.header,
            eventHeader: dto.signature_options.event_header,
          }
        : full
          ? {}
          : current.signatureOptions;
    const headers = dto.headers === undefined ? null : this.headerChange(id, dto.headers, current);
    if (dto.headers !== undefined || dto.signature_format !== undefined || dto.signature_options !== undefined) {
      const signing = signatureHeaderNames(format, options);
      const names = Object.fromEntries(Object.keys(current?.headers ?? {}).map((name) => [name, 'kept']));
      problems.push(...customHeaderProblems(headers?.check ?? names, signing));
    }
    if (full || dto.signature_format !== undefined) out.signatureFormat = format;
    if (full || dto.signature_options !== undefined)
      out.signatureOptions = JSON.parse(JSON.stringify(options)) as SignOptions;
    if (full || headers) {
      out.headers = headers?.sealed ?? {};
      out.headersSealed = true;
    }
    if (full || dto.name !== undefined) out.name = dto.name ?? '';
    if (full || dto.description !== undefined) out.description = dto.description ?? '';
    if (full || dto.timeout_ms !== undefined) out.timeoutMs = dto.timeout_ms ?? 15_000;
    if (full || dto.max_in_flight !== undefined) out.maxInFlight = dto.max_in_flight ?? null;
    if (full || dto.max_per_second !== undefined) out.maxPerSecond = dto.max_per_second ?? null;
    if (full || dto.body_format !== undefined) out.bodyFormat = dto.body_format ?? 'compact';
    if (dto.retry_enabled === false) {
      if (dto.retry_schedule?.length)
        problems.push({
          field: 'retry_schedule',
          errors: ['retry_enabled is false: leave retry_schedule out or empty'],
        });
      out.retrySchedule = [];
    } else if (dto.retry_schedule !== undefined) {
      out.retrySchedule = dto.retry_schedule;
    } else if (full || (dto.retry_enabled === true && current.retrySchedule?.length === 0)) {
      out.retrySchedule = null;
    }
    if (full) out.enabled = dto.enabled ?? true;
    if (problems.length) throw HookhubError.badRequest('The webhook is not valid', problems);
    return out;
  }
}
