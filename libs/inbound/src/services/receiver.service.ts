import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import {
  APP_CONFIG,
  type AppConfig,
  Clock,
  ERROR_STATUS,
  ErrorCode,
  HookhubError,
  readPath,
  storableText,
} from '@hookhub/core';
import { FINAL_STATUSES, type PrepareOptions, type PreparedRun, TasksService, type TaskRun } from '@hookhub/tasks';
import { type AnswerContext, renderTemplate } from '../answers/answer-template';
import type { HookResponseDto, HookTaskDto } from '../dto/hooks.dto';
import type { MatchedRule, Verdict } from '../entities/receipt.entity';
import type { AnswerTemplate, SourceAnswer } from '../entities/source.entity';
import { BodyParseError, parseBody } from '../http/body-parser';
import { flatHeaders, mediaType } from '../http/request-headers';
import { ALWAYS_REDACTED, type CompiledSource } from '../routing/compiled-source';
import { routeByRules } from '../routing/route-by-rules';
import { type TriggerContext, buildContext } from '../routing/trigger-context';
import { type VerifyFailure } from '../verifiers';
import { type ReceiptRow, ReceiptWriter } from './receipt-writer';
import { RejectionBurstDetector } from './rejection-burst';
import { SourceRegistry } from './source-registry';

/** An inbound request as the HTTP layer sees it, before the body is read. */
export interface HookRequest {
  slug: string;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  ip: string;
  query: Record<string, string>;
}

/** State carried from the pre-checks to the body: the receipt id, timing and the source. */
export interface HookContext {
  receiptId: string;
  startedAt: bigint;
  slug: string;
  method: string;
  ip: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  compiled: CompiledSource | null;
  /** The most bytes the body may have. */
  bodyLimit: number;
  /** A receipt was written (or is being written) for this request. */
  recorded: boolean;
}

/** A request whose source was found: the checks and the body read from here on have it. */
export interface RoutedContext extends HookContext {
  compiled: CompiledSource;
}

/** What a trigger starts: its runs, the rules (or the id) that chose them, and the task number of a by-id dispatch. */
interface Routed {
  runs: PreparedRun[];
  matched: MatchedRule[];
  taskNumber?: number;
}

export interface HookResult {
  status: number;
  /** Hookhub's answer, or what the source's `answer` template made of it (a text is sent as text/plain). */
  body: HookResponseDto | unknown;
}

/** What a source slug can be; anything else is no source, without asking the store. */
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

const FAILURE_CODES: Record<VerifyFailure, ErrorCode> = {
  missing: ErrorCode.SignatureMissing,
  invalid: ErrorCode.SignatureInvalid,
  expired: ErrorCode.TimestampOutOfWindow,
};

/**
 * The receiver: `POST /hooks/{slug}`. Checks run cheapest first (source, method, address, rate, content
 * type, size) before the body is read; then the raw bytes are verified, parsed, de-duplicated and routed.
 * Every request gets a receipt, and every 2xx is answered after its receipt and task runs are committed.
 */
@Injectable()
export class ReceiverService {
  constructor(
    private readonly registry: SourceRegistry,
    private readonly writer: ReceiptWriter,
    private readonly tasks: TasksService,
    /** The one rate-limit store (the admin API's throttling counts in it too): Redis when REDIS_URL is set. */
    @InjectThrottlerStorage() private readonly limiter: ThrottlerStorage,
    private readonly clock: Clock,
    private readonly bursts: RejectionBurstDetector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Checks that need no body. Throws (after recording the receipt) when the request is refused. */
  async preflight(request: HookRequest): Promise<RoutedContext> {
    const unrouted = this.contextOf(request);
    const compiled = SLUG.test(request.slug) ? await this.registry.bySlug(request.slug) : null;
    if (!compiled || !compiled.source.enabled) {
      throw await this.recordRefusal(
        unrouted,
        new HookhubError(
          ErrorCode.NotFound,
          compiled ? `Source ${request.slug} is disabled` : `No source named ${request.slug}`,
        ),
      );
    }
    const { source } = compiled;
    const ctx: RoutedContext = {
      ...unrouted,
      compiled,
      bodyLimit: Math.min(source.bodyLimit, this.config.inbound.maxBodyLimit),
    };
    if (!compiled.methods.has(ctx.method)) {
      const allow = [...compiled.methods].join(', ');
      throw await this.recordRefusal(
        ctx,
        new HookhubError(ErrorCode.MethodNotAllowed, `Method ${ctx.method} is not allowed; use ${allow}`, undefined, {
          allow,
        }),
      );
    }
    if (compiled.allow && !compiled.allow.allows(ctx.ip)) {
      throw await this.recordRefusal(
        ctx,
        new HookhubError(ErrorCode.IpNotAllowed, `Address ${ctx.ip} is not allowed to call this source`),
      );
    }
    const rate = await this.limiter.increment(`source:${source.id}`, 60_000, source.rateLimit, 60_000, 'receiver');
    if (rate.isBlocked) {
      throw await this.recordRefusal(
        ctx,
        new HookhubError(ErrorCode.RateLimited, `Over the limit of ${source.rateLimit} requests a minute`, undefined, {
          'retry-after': String(rate.timeToBlockExpire),
        }),
      );
    }
    const length = Number(ctx.headers['content-length'] ?? NaN);
    const hasBody = (Number.isFinite(length) && length > 0) || ctx.headers['transfer-encoding'] !== undefined;
    const type = mediaType(ctx.headers);
    if (hasBody && !compiled.contentTypes.has(type) && !compiled.contentTypes.has('*/*')) {
      throw await this.recordRefusal(
        ctx,
        new HookhubError(
          ErrorCode.UnsupportedMediaType,
          `Content type ${type || '(none)'} is not accepted; send ${[...compiled.contentTypes].join(', ')}`,
        ),
      );
    }
    if (Number.isFinite(length) && length > ctx.bodyLimit) {
      throw await this.recordRefusal(ctx, this.tooLarge(ctx));
    }
    return ctx;
  }

  /** The `answer` settings of the source named `slug`, for wording its refusals; null when there are none. */
  async answerOf(slug: string): Promise<SourceAnswer | null> {
    if (!SLUG.test(slug)) return null;
    try {
      return (await this.registry.bySlug(slug))?.source.answer ?? null;
    } catch {
      return null;
    }
  }

  /** Records the receipt of a request refused before it could be routed (a malformed URL); returns `error`, to be thrown. */
  async recordUnrouted(request: HookRequest, error: HookhubError): Promise<HookhubError> {
    return this.recordRefusal(this.contextOf(request), error);
  }

  private contextOf(request: HookRequest): HookContext {
    return {
      receiptId: randomUUID(),
      startedAt: process.hrtime.bigint(),
      slug: request.slug.slice(0, 200),
      method: request.method.toUpperCase(),
      ip: request.ip,
      headers: flatHeaders(request.headers),
      query: request.query,
      compiled: null,
      bodyLimit: this.config.inbound.maxBodyLimit,
      recorded: false,
    };
  }

  /**
   * The safety net behind "every request gets a receipt": a request answered with an error by a layer
   * below the receiver (the HTTP framework refusing a content type it cannot parse, say) is recorded here,
   * before its answer is sent, with the status and the error body's code and message.
   */
  async recordAnswer(ctx: HookContext, status: number, reason: string): Promise<void> {
    if (!ctx.recorded) await this.recordRejected(ctx, status, reason);
  }

  tooLarge(ctx: HookContext): HookhubError {
    return new HookhubError(
      ErrorCode.PayloadTooLarge,
      `The body is larger than this source's limit of ${ctx.bodyLimit} bytes`,
    );
  }

  /** Verifies, parses, de-duplicates and routes a received body. */
  async receive(ctx: RoutedContext, raw: Buffer): Promise<HookResult> {
    const { compiled } = ctx;
    const { source } = compiled;
    const verdict = compiled.verifier.verify({
      headers: ctx.headers,
      rawBody: raw,
      secrets: compiled.secrets,
      options: source.verification,
      now: this.clock.now(),
      toleranceSeconds: source.replayWindowSeconds,
    });
    if (!verdict.ok)
      throw await this.recordRefusal(ctx, new HookhubError(FAILURE_CODES[verdict.failure], verdict.reason), raw);
    let body: unknown;
    try {
      body = parseBody(raw, ctx.headers['content-type']);
    } catch (err) {
      if (err instanceof BodyParseError) throw await this.recordRefusal(ctx, HookhubError.badRequest(err.message), raw);
      throw err;
    }
    const trigger = buildContext(compiled, body, ctx.headers, ctx.query);
    const deliveryId = this.deliveryId(compiled, trigger, verdict.deliveryId);
    const dedup = this.dedupKey(compiled, raw, deliveryId, verdict.replayKey);

    const prepareOptions: PrepareOptions = { trigger: 'receipt', receiptId: ctx.receiptId, sourceId: source.id };
    let routed: Routed;
    try {
      routed =
        source.dispatch === 'by_id'
          ? await this.routeById(ctx, raw, trigger, deliveryId, prepareOptions)
          : routeByRules(compiled, trigger, this.tasks, prepareOptions);
    } catch (err) {
      if (err instanceof HookhubError) throw err;
      throw await this.recordRefusal(
        ctx,
        new HookhubError(
          ErrorCode.RunRefused,
          `The trigger matched but the run was refused: ${(err as Error).message}`,
        ),
        raw,
        trigger.event,
        deliveryId,
      );
    }
    const { runs, matched, taskNumber } = routed;

    const accepted = runs.length > 0;
    const answer = source.answer;
    const receipt = this.receipt(ctx, {
      verdict: accepted ? 'accepted' : 'unmatched',
      // A sync source's receipt gets its final status once its runs have finished.
      status: (accepted ? (source.responseMode === 'sync' ? 202 : answer?.status) : answer?.unmatched_status) ?? 202,
      raw,
      event: trigger.event,
      deliveryId,
      matched,
      taskIds: runs.map((r) => r.id),
    });
    ctx.recorded = true;
    const outcome = await this.writer.write({
      receipt,
      runs,
      dedup: dedup && { sourceId: source.id, key: dedup.key, windowSeconds: dedup.windowSeconds },
    });
    if (outcome.duplicateOf && dedup) {
      const o = outcome.duplicateOf;
      const original: HookResponseDto = {
        message: dedup.message,
        receipt_id: o.receipt_id,
        matched: o.matched,
        task_ids: o.task_ids,
        tasks: o.task_ids.map((id) => ({ id, program: '' })),
        duplicate: true,
      };
      // An old sender gets the answer it expects for what the original was (matched or not), with
      // `duplicate` true for the template.
      const template = o.matched ? answer?.body : answer?.unmatched_body;
      if (template === undefined) return { status: 200, body: original };
      const status = (o.matched ? answer?.status : answer?.unmatched_status) ?? 200;
      return this.shaped(ctx, trigger, original, status, template);
    }
    const tasks: HookTaskDto[] = runs.map((r) => ({ id: r.id, program: r.program_name }));
    const base: HookResponseDto = {
      message: accepted
        ? `Triggered ${runs.length} task${runs.length === 1 ? '' : 's'}`
        : 'Verified, but no rule matched; nothing was run',
      receipt_id: receipt.id,
      matched: accepted,
      task_ids: runs.map((r) => r.id),
      tasks,
      ...(taskNumber !== undefined ? { task_id: taskNumber } : {}),
    };
    if (!accepted) return this.shaped(ctx, trigger, base, answer?.unmatched_status, answer?.unmatched_body);
    if (source.responseMode !== 'sync') return this.shaped(ctx, trigger, base, answer?.status, answer?.body);
    const waited = await this.waitForRuns(base, source.syncTimeoutSeconds);
    if (!waited.finished) return { status: 202, body: waited.body };
    const failed = !waited.body.succeeded;
    const status = (failed ? answer?.failed_status : answer?.status) ?? 200;
    await this.writer.updateStatus(receipt.id, status);
    return failed
      ? this.shaped(ctx, trigger, waited.body, status, answer?.failed_body ?? answer?.body)
      : this.shaped(ctx, trigger, waited.body, status, answer?.body);
  }

  /** `status` (default 202) and the template rendered over Hookhub's answer, or that answer itself. */
  private shaped(
    ctx: RoutedContext,
    trigger: TriggerContext,
    base: HookResponseDto,
    status: number | undefined,
    template: AnswerTemplate | undefined,
  ): HookResult {
    return {
      status: status ?? 202,
      body: template === undefined ? base : renderTemplate(template, this.answerContext(ctx, trigger, base)),
    };
  }

  /** What an answer template reads: Hookhub's answer, the first run and its program, and the trigger. */
  private answerContext(ctx: RoutedContext, trigger: TriggerContext, base: HookResponseDto): AnswerContext {
    const { compiled } = ctx;
    const tasks = base.tasks.map((t) => ({
      id: t.id,
      program: t.program,
      status: t.status,
      exit_code: t.exit_code,
      output: t.stdout,
    }));
    const first = base.tasks[0];
    const programs = [...compiled.rules.map((r) => r.program), ...compiled.byIdPrograms.values()];
    const program = first ? programs.find((p) => p.name === first.program) : undefined;
    return {
      message: base.message,
      receipt_id: base.receipt_id,
      matched: base.matched,
      duplicate: base.duplicate ?? false,
      task_ids: base.task_ids,
      tasks,
      task: tasks[0] ?? null,
      program: program ? { id: program.id, name: program.name, number: program.number } : null,
      output: base.output ?? null,
      exit_code: base.exit_code ?? null,
      succeeded: base.succeeded ?? null,
      event: trigger.event,
      body: trigger.body,
      query: ctx.query,
    };
  }

  /**
   * `dispatch: by_id`: the body's id field (`{"task_id": 1}`) names the program to run. A missing or malformed
   * id is refused with 400, an unknown or disabled one with 404. Throws the TemplateError of a refused run.
   */
  private async routeById(
    ctx: RoutedContext,
    raw: Buffer,
    trigger: TriggerContext,
    deliveryId: string | null,
    options: PrepareOptions,
  ): Promise<Routed> {
    const { compiled } = ctx;
    const { idField } = compiled.source;
    const { body } = trigger;
    const value =
      body !== null && typeof body === 'object' && !Array.isArray(body)
        ? (body as Record<string, unknown>)[idField]
        : undefined;
    // A JSON number only, as the message says (the reference sender's uint): "2" is refused, not guessed.
    const number = typeof value === 'number' ? value : NaN;
    if (!Number.isInteger(number) || number < 1 || number > 2_147_483_647) {
      const got = value === undefined ? 'it is missing' : `got ${JSON.stringify(value).slice(0, 40)}`;
      throw await this.recordRefusal(
        ctx,
        HookhubError.badRequest(`The body must be a JSON object with "${idField}", a positive integer (${got})`),
        raw,
        trigger.event,
        deliveryId,
      );
    }
    const program = compiled.byIdPrograms.get(number);
    if (!program || !program.enabled)
      throw await this.recordRefusal(ctx, HookhubError.notFound(`Task ${number}`), raw, trigger.event, deliveryId);
    return {
      runs: [this.tasks.prepare(program, {}, trigger, options)],
      matched: [
        { rule_id: null, rule_name: `${idField}=${number}`, program_id: program.id, program_name: program.name },
      ],
      taskNumber: number,
    };
  }

  /** sync sources: wait for the runs, then answer with their exit codes and output. */
  private async waitForRuns(
    base: HookResponseDto,
    timeoutSeconds: number,
  ): Promise<{ finished: boolean; body: HookResponseDto }> {
    const runs = await this.tasks.waitForFinal(base.task_ids, timeoutSeconds * 1000);
    const finished = runs.length === base.task_ids.length && runs.every((r) => FINAL_STATUSES.includes(r.status));
    const tasks = runs.map((r: TaskRun) => ({
      id: r.id,
      program: r.programName,
      status: r.status,
      exit_code: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      error: r.lastError,
    }));
    if (!finished) {
      return {
        finished: false,
        body: { ...base, tasks, message: `Still running after ${timeoutSeconds} s; follow GET /api/tasks/{id}` },
      };
    }
    const succeeded = runs.every((r) => r.status === 'succeeded');
    return {
      finished: true,
      body: {
        ...base,
        tasks,
        message: succeeded
          ? 'Task finished successfully'
          : `Task ${runs.find((r) => r.status !== 'succeeded')?.status}: ${runs.find((r) => r.status !== 'succeeded')?.lastError ?? ''}`,
        output: runs[0]?.stdout ?? '',
        exit_code: runs[0]?.exitCode ?? null,
        succeeded,
      },
    };
  }

  /**
   * What makes a second request a duplicate that runs nothing again, and for how long: the body's digest
   * (`dedup: body`), else its delivery id; and, for schemes with a signed timestamp, the signed content
   * itself for as long as the timestamp is accepted (an exact replay), whatever the de-duplication setting.
   */
  private dedupKey(
    compiled: CompiledSource,
    raw: Buffer,
    deliveryId: string | null,
    replayKey: string | undefined,
  ): { key: string; windowSeconds: number; message: string } | null {
    const { source } = compiled;
    // A timestamp is accepted from window seconds before now to window seconds after, so a signed request
    // can be replayed for up to twice the window.
    const replayWindow = replayKey ? 2 * source.replayWindowSeconds : 0;
    const window = Math.max(source.dedupWindowSeconds, replayWindow);
    const digest = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
    if (source.dedup === 'body' && source.dedupWindowSeconds > 0) {
      return {
        key: `body:${digest(raw)}`,
        windowSeconds: window,
        message: `Duplicate: the same body arrived within ${source.dedupWindowSeconds} s; nothing ran again`,
      };
    }
    if (deliveryId && source.dedupWindowSeconds > 0) {
      return {
        key: deliveryId,
        windowSeconds: window,
        message: 'Duplicate delivery: already received, nothing ran again',
      };
    }
    if (replayKey) {
      return {
        key: `replay:${digest(replayKey)}`,
        windowSeconds: replayWindow,
        message: 'Replay: this signed request was already received; nothing ran again',
      };
    }
    return null;
  }

  private deliveryId(
    compiled: CompiledSource,
    trigger: TriggerContext,
    fromVerifier: string | undefined,
  ): string | null {
    const { source } = compiled;
    let value: unknown = fromVerifier;
    if (source.dedupHeader) value = trigger.headers[source.dedupHeader];
    else if (compiled.dedupPath) value = readPath({ body: trigger.body }, compiled.dedupPath);
    if (typeof value === 'number') value = String(value);
    return typeof value === 'string' && value.length > 0 ? storableText(value).slice(0, 200) : null;
  }

  /** Records the receipt of a refused request; returns `error`, the answer, for the caller to throw. */
  async recordRefusal(
    ctx: HookContext,
    error: HookhubError,
    raw?: Buffer,
    event: string | null = null,
    deliveryId: string | null = null,
  ): Promise<HookhubError> {
    await this.recordRejected(ctx, ERROR_STATUS[error.code], `${error.code}: ${error.message}`, raw, event, deliveryId);
    return error;
  }

  private async recordRejected(
    ctx: HookContext,
    status: number,
    reason: string,
    raw?: Buffer,
    event: string | null = null,
    deliveryId: string | null = null,
  ): Promise<void> {
    ctx.recorded = true;
    await this.writer.write({
      receipt: this.receipt(ctx, { verdict: 'rejected', status, raw, event, deliveryId, reason }),
      runs: [],
    });
    if (ctx.compiled) this.bursts.record(ctx.compiled.source, status, reason);
  }

  private receipt(
    ctx: HookContext,
    r: {
      verdict: Verdict;
      status: number;
      raw?: Buffer;
      event: string | null;
      deliveryId: string | null;
      reason?: string;
      matched?: MatchedRule[];
      taskIds?: string[];
    },
  ): ReceiptRow {
    const cap = this.config.inbound.receiptBodyCap;
    const redact = ctx.compiled?.redact ?? ALWAYS_REDACTED;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(ctx.headers)) {
      headers[storableText(name)] = redact.has(name) ? '[redacted]' : storableText(value).slice(0, 2000);
    }
    return {
      id: ctx.receiptId,
      source_id: ctx.compiled?.source.id ?? null,
      slug: storableText(ctx.slug),
      delivery_id: r.deliveryId,
      method: ctx.method.slice(0, 16),
      ip: ctx.ip || null,
      event: r.event,
      verdict: r.verdict,
      reason: r.reason ? storableText(r.reason).slice(0, 1000) : null,
      status_code: r.status,
      headers,
      body: r.raw ? storableText(r.raw.subarray(0, cap).toString('utf8')) : null,
      body_bytes: r.raw?.length ?? 0,
      body_truncated: (r.raw?.length ?? 0) > cap,
      matched_rules: r.matched ?? [],
      task_ids: r.taskIds ?? [],
      duplicate_of: null,
      duration_ms: Number(process.hrtime.bigint() - ctx.startedAt) / 1e6,
    };
  }
}
