import { Router } from 'express';
import { AppError, isAppError, ProviderError } from '../shared/errors';
import type { EmbedsService } from './embeds.service';

/**
 * A signed-in page that previews a pasted public post URL through Meta's oEmbed, as the deployer's site
 * would embed it: the author, the title and the thumbnail, and the markup Meta gives (shown as text: the
 * page runs no third-party script).
 */
export function createEmbedsRouter(deps: { embeds: EmbedsService }): Router {
  const router = Router();
  router.get('/account/preview', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    if (!req.user) throw new AppError('NOT_FOUND');
    if (!deps.embeds.available) throw new AppError('NOT_FOUND', 'embeds need Facebook Login configured');
    const url = typeof req.query.url === 'string' ? req.query.url.trim() : '';
    let embed: Record<string, unknown> | null = null;
    let problem: string | null = null;
    if (url !== '') {
      if (!deps.embeds.accepts(url)) {
        problem = 'That is not the address of a public post, reel or IGTV video.';
      } else {
        try {
          embed = await deps.embeds.embed({ url });
        } catch (error) {
          if (!(error instanceof ProviderError) && !isAppError(error)) throw error;
          problem =
            error instanceof ProviderError && error.failure.kind === 'refused'
              ? 'Meta has no public post to show at that address (it may be private or removed).'
              : 'Meta did not answer; try again in a moment.';
        }
      }
    }
    const text = (value: unknown) => (typeof value === 'string' ? value : null);
    res.render('preview', {
      url,
      problem,
      embed: embed && {
        author: text(embed.author_name),
        title: text(embed.title),
        thumbnail: text(embed.thumbnail_url)?.startsWith('https://') ? text(embed.thumbnail_url) : null,
        html: text(embed.html),
      },
    });
  });
  return router;
}
