import { DAY, HOUR, MINUTE } from '../shared/clock';
import { graphError, isDecimalId, LONG_LIVED_EXPIRES_IN_SECONDS, randomAlphanumeric } from './sandbox-wire';

/**
 * Wire-level facts of the Instagram API with Facebook Login for Business that the sandbox reproduces
 * (docs/instagram-platform.md, "Facebook Login for Business"). Pure functions and constants only.
 */

/** The built-in Facebook app the app uses in development (`FACEBOOK_APP_ID=sandbox`). */
export const SANDBOX_FACEBOOK_APP_ID = '1000000000000002';
export const SANDBOX_FACEBOOK_APP_SECRET = 'igconnect-sandbox-facebook-secret';
export const SANDBOX_FACEBOOK_APP_NAME = 'igconnect (sandbox)';

export type FacebookEndpoint =
  | 'fb_dialog'
  | 'fb_token'
  | 'fb_exchange'
  | 'fb_app_token'
  | 'fb_me'
  | 'fb_accounts'
  | 'fb_ig_user'
  | 'fb_debug_token'
  | 'fb_permissions'
  | 'fb_oembed';
export const FACEBOOK_ENDPOINTS: readonly FacebookEndpoint[] = [
  'fb_dialog',
  'fb_token',
  'fb_exchange',
  'fb_app_token',
  'fb_me',
  'fb_accounts',
  'fb_ig_user',
  'fb_debug_token',
  'fb_permissions',
  'fb_oembed',
];

export const SCOPE_INSTAGRAM_BASIC = 'instagram_basic';
export const SCOPE_PAGES_SHOW_LIST = 'pages_show_list';
export const SCOPE_BUSINESS_MANAGEMENT = 'business_management';
/** The consent screen cannot untick these: without them no Instagram account can be found. */
export const FACEBOOK_REQUIRED_SCOPES: readonly string[] = [SCOPE_INSTAGRAM_BASIC, SCOPE_PAGES_SHOW_LIST];

/** Facebook Login permission names the dialog accepts (no `business_` prefix on the Instagram ones). */
export const FACEBOOK_LOGIN_SCOPES: readonly string[] = [
  'public_profile',
  'email',
  SCOPE_INSTAGRAM_BASIC,
  SCOPE_PAGES_SHOW_LIST,
  SCOPE_BUSINESS_MANAGEMENT,
  'instagram_content_publish',
  'instagram_manage_comments',
  'instagram_manage_insights',
  'instagram_manage_messages',
  'pages_read_engagement',
];

/** Permissions that apply to chosen Pages, and to chosen Instagram accounts (debug_token's granular_scopes). */
export const PAGE_SCOPES: readonly string[] = [SCOPE_PAGES_SHOW_LIST, 'pages_read_engagement'];
export const INSTAGRAM_SCOPES: readonly string[] = [
  SCOPE_INSTAGRAM_BASIC,
  'instagram_content_publish',
  'instagram_manage_comments',
  'instagram_manage_insights',
  'instagram_manage_messages',
];

/** What a Login for Business configuration (`config_id`) stands for in the sandbox: any numeric id. */
export const CONFIG_ID_SCOPES: readonly string[] = [
  SCOPE_INSTAGRAM_BASIC,
  SCOPE_PAGES_SHOW_LIST,
  SCOPE_BUSINESS_MANAGEMENT,
];

/** The dialog's pending request stays answerable this long. */
export const FACEBOOK_PENDING_LIFETIME_MS = HOUR;
/** Facebook's authorization codes live ten minutes and work once. */
export const FACEBOOK_CODE_LIFETIME_MS = 10 * MINUTE;
/** A short-lived user token: about 1.4 hours. */
export const SHORT_USER_EXPIRES_IN_SECONDS = 5183;
/** A long-lived user token: the same 5183944 s (about 60 days) as Instagram's. */
export const LONG_USER_EXPIRES_IN_SECONDS = LONG_LIVED_EXPIRES_IN_SECONDS;
/** A Page token obtained with a short-lived user token lasts an hour; with a long-lived one it never expires. */
export const SHORT_PAGE_TOKEN_LIFETIME_MS = HOUR;
/** Data access lapses 90 days after the person last authorized the app; it cannot be renewed server-side. */
export const DATA_ACCESS_LIFETIME_MS = 90 * DAY;

/** Facebook user and Page tokens start with `EAA`. */
export function newFacebookToken(): string {
  return `EAA${randomAlphanumeric(180)}`;
}

/** What `grant_type=client_credentials` answers: the app id, a bar, and an opaque part. */
export function newAppToken(appId: string): string {
  return `${appId}|${randomAlphanumeric(27)}`;
}

export function userTokenBody(accessToken: string, expiresInSeconds: number): string {
  return JSON.stringify({ access_token: accessToken, token_type: 'bearer', expires_in: expiresInSeconds });
}

/**
 * A JSON object whose listed keys are written as bare numbers (ids above 2^53): the text is built by
 * hand, because any JS number would already have lost the last digits. Other values go through
 * JSON.stringify.
 */
export function jsonWithBareIds(entries: ReadonlyArray<readonly [string, unknown]>, bare: readonly string[]): string {
  const parts = entries.map(([key, value]) => {
    if (bare.includes(key) && typeof value === 'string') {
      if (!isDecimalId(value)) throw new Error(`a bare id must be decimal digits: ${value}`);
      return `${JSON.stringify(key)}:${value}`;
    }
    return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
  });
  return `{${parts.join(',')}}`;
}

/** `(#100) Unsupported get request…`: an id that does not exist or that this token may not see. */
export function unsupportedRequest(method: 'get' | 'delete', id: string) {
  return graphError(
    100,
    33,
    `Unsupported ${method} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    'GraphMethodException',
  );
}

export function nonexistingField(field: string, nodeType: string) {
  return graphError(100, undefined, `(#100) Tried accessing nonexisting field (${field}) on node type (${nodeType})`);
}

// --- oEmbed -------------------------------------------------------------------------------------------

/** A public post or reel of one of the sandbox's Instagram accounts. */
export interface OembedPost {
  kind: 'p' | 'reel';
  shortcode: string;
  username: string;
  caption: string;
  /** Some answers carry thumbnails and some do not: clients must cope with both. */
  thumbnail?: { width: number; height: number };
}

export const OEMBED_POSTS: readonly OembedPost[] = [
  {
    kind: 'p',
    shortcode: 'C7sUnNyBk01',
    username: 'sunny.bakery',
    caption: 'Fresh sourdough, out of the oven at 7 <every> morning & gone by 9.',
    thumbnail: { width: 640, height: 640 },
  },
  { kind: 'reel', shortcode: 'C8tRa1LrUn5', username: 'trail.runner.jo', caption: 'Sunrise ridge run, 21 km.' },
  {
    kind: 'p',
    shortcode: 'C6pIxElGdn9',
    username: 'pixel.garden.studio',
    caption: 'New poster series: "Seeds".',
    thumbnail: { width: 640, height: 800 },
  },
  { kind: 'reel', shortcode: 'C9hArB0rCf3', username: 'harbor.coffee', caption: 'Latte art, slowly.' },
];

export const OEMBED_DEFAULT_WIDTH = 658;
export const OEMBED_MIN_WIDTH = 320;

/**
 * Post and reel URLs as oEmbed accepts them: http(s), with or without `www.`, the shortcode, an optional
 * trailing slash and any query string (share links carry `?igsh=…` or `?utm_source=…`).
 */
const POST_URL = /^https?:\/\/(?:www\.)?instagram\.com\/(p|reel|tv)\/([A-Za-z0-9_-]{5,64})\/?(?:\?[^#]*)?(?:#.*)?$/;

export function parsePostUrl(url: string): { kind: string; shortcode: string } | undefined {
  const match = POST_URL.exec(url);
  return match?.[1] && match[2] ? { kind: match[1], shortcode: match[2] } : undefined;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Meta's oEmbed answer for a post: a blockquote the embed script turns into the post, and the script. */
export function oembedBody(
  post: OembedPost,
  options: { width: number; hideCaption: boolean; omitScript: boolean; thumbnailBase: string },
): object {
  const permalink = `https://www.instagram.com/${post.kind}/${post.shortcode}/`;
  const link = `${permalink}?utm_source=ig_embed&utm_campaign=loading`;
  const caption = options.hideCaption
    ? ''
    : `<p><a href="${escapeHtml(link)}" target="_blank">${escapeHtml(post.caption)}</a></p>`;
  const html =
    `<blockquote class="instagram-media"${options.hideCaption ? '' : ' data-instgrm-captioned'} data-instgrm-permalink="${escapeHtml(link)}" data-instgrm-version="14">` +
    `<div><a href="${escapeHtml(link)}" target="_blank">View this post on Instagram</a></div>${caption}` +
    `<p>A post shared by <a href="https://www.instagram.com/${escapeHtml(post.username)}/?utm_source=ig_embed&amp;utm_campaign=loading" target="_blank">@${escapeHtml(post.username)}</a></p>` +
    `</blockquote>` +
    (options.omitScript ? '' : '<script async src="//www.instagram.com/embed.js"></script>');
  const body: Record<string, string | number> = {
    version: '1.0',
    author_name: post.username,
    provider_name: 'Instagram',
    provider_url: 'https://www.instagram.com/',
    type: 'rich',
    width: options.width,
    html,
  };
  if (post.thumbnail) {
    body.thumbnail_url = `${options.thumbnailBase}/${post.shortcode}.svg`; // served by the sandbox
    body.thumbnail_width = post.thumbnail.width;
    body.thumbnail_height = post.thumbnail.height;
  }
  return body;
}
