import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { HubRoutes, pathOf } from '../routing/hub-routes';
import { SourceStore } from '../stores/source.store';
import { SourcesService } from './sources.service';

/**
 * Every source's aliases in memory, so the HTTP layer can send a request to an alias on to `/hooks/{slug}`
 * before routing (a synchronous step): loaded at boot and again whenever any process changes a source.
 */
@Injectable()
export class PathAliases implements OnModuleInit {
  private readonly logger = new Logger('PathAliases');
  private bySlug = new Map<string, string>();
  private loading: Promise<void> | null = null;

  constructor(
    private readonly store: SourceStore,
    private readonly routes: HubRoutes,
    sources: SourcesService,
  ) {
    sources.onChange(() => void this.reload());
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
  }

  /** Loads the aliases again; a failure keeps the ones known (and is retried on the next change). */
  reload(): Promise<void> {
    const load = async () => {
      try {
        const map = new Map<string, string>();
        for (const { slug, aliases } of await this.store.aliases()) for (const a of aliases) map.set(a, slug);
        this.bySlug = map;
      } catch (err) {
        this.logger.warn(`could not load the sources' aliases: ${(err as Error).message}`);
      }
    };
    // Loads in turn, so an older answer never replaces a newer one.
    this.loading = (this.loading ?? Promise.resolve()).then(load);
    return this.loading;
  }

  /** The source slug `path` is an alias of, or undefined. */
  slugOf(path: string): string | undefined {
    return this.bySlug.get(path);
  }

  /**
   * The URL to route `method url` by: `/hooks/{slug}` (with the query) for an alias, unless one of Hookhub's
   * routes answers that method at that path; else `url` itself.
   */
  rewrite(method: string, url: string): string {
    if (!this.bySlug.size) return url;
    const path = pathOf(url);
    const slug = this.bySlug.get(path);
    if (!slug || this.routes.find(method, path)) return url;
    const q = url.indexOf('?');
    return `/hooks/${slug}${q < 0 ? '' : url.slice(q)}`;
  }
}
