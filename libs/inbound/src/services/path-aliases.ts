import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HubRoutes, pathOf } from '../routing/hub-routes';
import { SourceStore } from '../stores/source.store';
import { SourcesService } from './sources.service';

/**
 * Every source's aliases in memory, so the HTTP layer can send a request to an alias on to `/hooks/{slug}`
 * before routing (a synchronous step): loaded at boot and again whenever any process changes a source.
 */
/** Aliases are also reloaded this often, so a change notice lost (or a reload that failed) is made good. */
const REFRESH_MS = 10_000;

@Injectable()
export class PathAliases implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('PathAliases');
  private slugByPath = new Map<string, string>();
  private loading: Promise<void> = Promise.resolve();
  /** A reload is waiting to start: later requests join it rather than queue another. */
  private pending: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SourceStore,
    private readonly routes: HubRoutes,
    sources: SourcesService,
  ) {
    sources.onChange(() => this.reload());
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => void this.reload(), REFRESH_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * Loads the aliases again, after any load under way (so an older answer never replaces a newer one); a
   * failure keeps the ones known until the next reload.
   */
  reload(): Promise<void> {
    if (this.pending) return this.pending;
    const next = this.loading.then(async () => {
      this.pending = null;
      try {
        const map = new Map<string, string>();
        for (const { slug, aliases } of await this.store.aliases()) for (const a of aliases) map.set(a, slug);
        this.slugByPath = map;
      } catch (err) {
        this.logger.warn(`could not load the sources' aliases: ${(err as Error).message}`);
      }
    });
    this.pending = next;
    this.loading = next;
    return next;
  }

  /** Every alias with its source's slug, by path. */
  entries(): Array<[path: string, slug: string]> {
    return [...this.slugByPath.entries()].sort(([a], [b]) => a.localeCompare(b));
  }

  /**
   * The URL to route `method url` by: `/hooks/{slug}` (with the query) for an alias, unless one of Hookhub's
   * routes answers that method at that path; else `url` itself.
   */
  rewrite(method: string, url: string): string {
    if (!this.slugByPath.size) return url;
    const path = pathOf(url);
    const slug = this.slugByPath.get(path);
    if (!slug || this.routes.find(method, path)) return url;
    const q = url.indexOf('?');
    return `/hooks/${slug}${q < 0 ? '' : url.slice(q)}`;
  }
}
