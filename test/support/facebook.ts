import { type Agent, pathOf } from './harness';

/**
 * The Facebook Login for Business flow through the built-in sandbox (FACEBOOK_APP_ID=sandbox), clicked
 * through like a browser: start, the sandbox's dialog (person, permissions, Pages, Instagram accounts),
 * then the callback URL Facebook (the sandbox) sends the browser to, not followed.
 */
export const FACEBOOK_ENV = { FACEBOOK_APP_ID: 'sandbox' };

export const ALEX = '10160123456789013';
export const SAM = '10160987654321011';
export const MORGAN_NOT_TESTER = '10160555555555557';
export const PAGES = {
  sunny: { id: '112233445566771', name: 'Sunny Bakery', ig: '17841405793187219', username: 'sunny.bakery' },
  trail: { id: '112233445566773', name: 'Trail Runner Jo', ig: '17841401234567893', username: 'trail.runner.jo' },
  corner: { id: '112233445566775', name: 'Corner Shop' },
  pixel: { id: '112233445566777', name: 'Pixel Garden Studio', ig: '17841407654321097' },
};

export interface FacebookChoice {
  decision?: 'allow' | 'cancel';
  person?: string;
  /** Optional permissions left ticked; default every one offered. */
  scopes?: string[];
  /** Pages left ticked; default every one offered. */
  pages?: string[];
  /** Instagram accounts left ticked; default every one offered. */
  instagramAccounts?: string[];
  /** Start path (a connect link, say); default /auth/facebook. */
  startPath?: string;
}

const valuesOf = (html: string, name: string) =>
  [...html.matchAll(new RegExp(`name="${name}"[^>]*value="([^"]+)"`, 'g'))].map((m) => m[1] ?? '');

export async function authorizeFacebook(agent: Agent, choice: FacebookChoice = {}): Promise<string> {
  const start = await agent.get(choice.startPath ?? '/auth/facebook');
  if (start.status !== 302) throw new Error(`start route answered ${start.status}`);
  const dialogUrl = start.headers.location as string;
  const dialog = await agent.get(pathOf(dialogUrl));
  if (dialog.status !== 200) throw new Error(`Facebook dialog answered ${dialog.status}: ${dialog.text}`);
  const request = /name="request"\s+value="([^"]+)"/.exec(dialog.text)?.[1] ?? '';
  const form = new URLSearchParams({ request, decision: choice.decision ?? 'allow' });
  form.set('person', choice.person ?? ALEX);
  for (const scope of choice.scopes ?? valuesOf(dialog.text, 'scopes')) form.append('scopes', scope);
  // Pages and accounts are listed for the first person on the dialog; a choice for another person names them.
  for (const page of choice.pages ?? valuesOf(dialog.text, 'pages')) form.append('pages', page);
  for (const ig of choice.instagramAccounts ?? valuesOf(dialog.text, 'instagram_accounts')) {
    form.append('instagram_accounts', ig);
  }
  const decided = await agent.post(new URL(dialogUrl).pathname).type('form').send(form.toString());
  if (decided.status !== 302) throw new Error(`Facebook dialog post answered ${decided.status}: ${decided.text}`);
  return decided.headers.location as string;
}
