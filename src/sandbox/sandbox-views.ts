import { join } from 'node:path';
import ejs from 'ejs';
import { PROJECT_ROOT } from '../shared/project-root';
import type { SandboxAccount } from './sandbox-accounts';

/** Resolved once from the folder holding package.json, so it works from src/ (ts-jest) and dist/src/. */
const VIEWS_DIR = join(PROJECT_ROOT, 'views', 'sandbox');
export const SANDBOX_CSS_FILE = join(PROJECT_ROOT, 'public', 'sandbox.css');

export type SandboxView = 'consent' | 'facebook-consent' | 'accounts' | 'error';

export function renderView(view: SandboxView, data: Record<string, unknown>): Promise<string> {
  return ejs.renderFile(join(VIEWS_DIR, `${view}.ejs`), data);
}

/** What each scope lets the app do, in words for the consent screen. */
export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  instagram_business_basic:
    'See your profile: username, name, account type, profile picture, follower and media counts',
  instagram_business_content_publish: 'Publish posts, reels and stories for you',
  instagram_business_manage_comments: 'Read, reply to and hide comments on your media',
  instagram_business_manage_messages: 'Read and send direct messages',
  instagram_business_manage_insights: 'See insights about your media and audience',
};

/** The same for Facebook Login permissions (the Facebook dialog). */
export const FACEBOOK_SCOPE_DESCRIPTIONS: Record<string, string> = {
  public_profile: 'See your name and profile picture',
  email: 'See your email address',
  instagram_basic: 'See the Instagram accounts connected to your Pages: profile, media and counts',
  pages_show_list: 'Show a list of the Pages you manage',
  business_management: 'Manage your business portfolio, including business-owned Pages',
  instagram_content_publish: 'Publish posts, reels and stories on your Instagram accounts',
  instagram_manage_comments: 'Read, reply to and hide comments on your Instagram media',
  instagram_manage_insights: 'See insights about your Instagram media and audience',
  instagram_manage_messages: 'Read and send Instagram direct messages',
  pages_read_engagement: 'Read content posted on your Pages and its engagement',
};

export const ACCOUNT_TYPE_LABELS: Record<SandboxAccount['accountType'], string> = {
  BUSINESS: 'Business',
  MEDIA_CREATOR: 'Creator',
};

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

/** A generated avatar: the username's initial on a circle whose hue comes from the account id (any string). */
export function avatarSvg(account: Pick<SandboxAccount, 'igUserId' | 'username'>): string {
  let hash = 0;
  for (const char of account.igUserId) hash = (hash * 31 + char.charCodeAt(0)) % 360;
  const initial = escapeXml((account.username.match(/[a-z0-9]/i)?.[0] ?? '?').toUpperCase());
  const label = escapeXml(`@${account.username}`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="150" height="150" viewBox="0 0 150 150" role="img" aria-label="${label}">` +
    `<circle cx="75" cy="75" r="75" fill="hsl(${hash}, 60%, 35%)"/>` +
    `<text x="75" y="75" dy="0.35em" text-anchor="middle" font-family="system-ui, sans-serif" font-size="72" font-weight="600" fill="#ffffff">${initial}</text>` +
    `</svg>`
  );
}
