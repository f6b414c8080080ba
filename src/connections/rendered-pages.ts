import type { Request, Response } from 'express';

/**
 * The status page as last rendered for each signed-in user, reused while everything it is rendered from
 * is the same. The key is the page's whole input, serialized: the connections as read in this request
 * (so a change made by another instance or the keeper shows at once), their times in words as of now, the
 * session's CSRF token, the flash, the notices and the response's locals. A template is a pure function
 * of those, so an equal key means an equal page; nothing is kept past a change, and nothing is ever served
 * to another user or session (one entry per user, and the session's own CSRF token is in the key).
 *
 * Only with Express's view cache on (production): without it, templates are recompiled on each render so
 * that an edited file shows at once, and a kept page would hide the edit.
 */
export class RenderedPages {
  private readonly pages = new Map<string, { key: string; html: string }>();

  constructor(private readonly maxUsers: number) {}

  /** Renders `view` with `locals` for `userId`, or sends the page kept from an identical render. */
  send(req: Request, res: Response, userId: string | undefined, view: string, locals: object): Promise<void> {
    if (userId === undefined || !req.app.enabled('view cache')) return render(res, view, locals);
    const key = keyOf(view, res.locals, locals);
    if (key === undefined) return render(res, view, locals);
    const kept = this.pages.get(userId);
    if (kept?.key === key) {
      // Most recently used last: the oldest user is the first in the map's order.
      this.pages.delete(userId);
      this.pages.set(userId, kept);
      res.type('html').send(kept.html);
      return Promise.resolve();
    }
    return render(res, view, locals, (html) => {
      this.pages.delete(userId);
      this.pages.set(userId, { key, html });
      if (this.pages.size > this.maxUsers) this.pages.delete(this.pages.keys().next().value as string);
    });
  }
}

/** The serialized input, or undefined when it cannot be serialized (then the page is simply rendered). */
function keyOf(view: string, resLocals: object, locals: object): string | undefined {
  try {
    return JSON.stringify([view, resLocals, locals]);
  } catch {
    return undefined;
  }
}

function render(res: Response, view: string, locals: object, keep?: (html: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    res.render(view, locals, (error: Error | null, html: string) => {
      if (error) return reject(error);
      keep?.(html);
      res.send(html);
      resolve();
    });
  });
}
