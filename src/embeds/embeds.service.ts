import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';

/**
 * Embeds of public Instagram posts (Meta's oEmbed), read with the app's own access token — no person, no
 * connection — through the first configured provider that has one (Facebook Login's Meta app). Answers
 * are kept for `cacheMs` per (url, maxwidth), bounded in number, so a page showing the same post to many
 * visitors asks Meta once.
 */
const MAX_CACHED = 1000;

export class EmbedsService {
  private readonly cache = new Map<string, { at: number; body: Record<string, unknown> }>();

  constructor(
    private readonly deps: { providers: ProviderRegistry; http: HttpClient; clock: Clock; cacheMs: number },
  ) {}

  /** The provider that embeds, if one is configured. */
  private get embedder() {
    return this.deps.providers.all().find((p) => p.oembed)?.oembed;
  }

  get available(): boolean {
    return this.embedder !== undefined;
  }

  accepts(url: string): boolean {
    return this.embedder?.accepts(url) ?? false;
  }

  async embed(request: { url: string; maxwidth?: number }): Promise<Record<string, unknown>> {
    const embedder = this.embedder;
    if (!embedder) throw new AppError('NOT_FOUND', 'embeds need Facebook Login configured (FACEBOOK_APP_ID)');
    if (!embedder.accepts(request.url)) throw new AppError('BAD_REQUEST', 'not a public Instagram post URL');
    const key = `${request.maxwidth ?? ''} ${request.url}`;
    const now = this.deps.clock.now();
    const cached = this.cache.get(key);
    if (cached && now - cached.at < this.deps.cacheMs) return cached.body;
    const body = await embedder.fetch(this.deps.http, request);
    if (this.deps.cacheMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { at: now, body });
    }
    return body;
  }
}
