/** Reading the app's server-rendered pages in tests. */
export function csrfFrom(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no CSRF token on the page');
  return token;
}

/** The first form on the page that posts to /account/connections/:id/<kind>. */
export function formAction(html: string, kind: 'disconnect' | 'validate' | 'refresh'): string {
  const action = new RegExp(`action="(/account/connections/[^"]+/${kind})"`).exec(html)?.[1];
  if (!action) throw new Error(`no ${kind} form on the page`);
  return action;
}
