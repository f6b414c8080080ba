import { absoluteTime, relativeTime } from '../shared/time-text';
import type { Connection } from './connections.service';

/**
 * What the status page needs to answer at a glance: is each account working, when does its token end,
 * and which ones need the person. The words for each health live in views/account.ejs.
 */
export type ConnectionHealth = 'healthy' | 'expired' | 'needs_reconnect';

export interface TimeText {
  iso: string;
  relative: string;
  absolute: string;
}

/** A permission's name and what it lets the app do, in the provider definition's words. */
export interface ScopeText {
  name: string;
  words: string;
}

/** The words for a provider's permission (`ProviderDefinition.scopeWords`); undefined when it has none. */
export type ScopeWords = (provider: string, scope: string) => string | undefined;

export interface ConnectionCard extends Connection {
  health: ConnectionHealth;
  /** Only the person can fix it: the provider must be asked again. */
  needsYou: boolean;
  /** null for a token that never expires. */
  expires: TimeText | null;
  /** When the person's data access lapses (Facebook Login's 90 days), if it does. */
  accessExpires: TimeText | null;
  /** Data access lapses within ACCESS_WARNING_MS: only reconnecting extends it. */
  accessEndsSoon: boolean;
  /** For an expired connection: whether its data access lapsed (else its token expired). */
  accessLapsed: boolean;
  connected: TimeText;
  tokenIssued: TimeText;
  lastRefreshed: TimeText | null;
  lastValidated: TimeText | null;
  grantedScopeTexts: ScopeText[];
  declinedScopeTexts: ScopeText[];
  /** The keeper's next planned action for this account, or null when only the person can act. */
  next: { kind: 'refresh' | 'validate' | 'expire'; when: TimeText; due: boolean } | null;
}

export interface StatusPage {
  cards: ConnectionCard[];
  needingYou: ConnectionCard[];
}

function timeText(epochMs: number, now: Date): TimeText {
  const date = new Date(epochMs);
  return { iso: date.toISOString(), relative: relativeTime(date, now), absolute: absoluteTime(date) };
}

const timeOrNull = (epochMs: number | null, now: Date) => (epochMs === null ? null : timeText(epochMs, now));

/** Warn this long before data access lapses: it cannot be renewed server-side, only by reconnecting. */
export const ACCESS_WARNING_MS = 14 * 86_400_000;

/**
 * A token past its expiry (or past the lapse of data access) cannot work whatever the stored status says,
 * so it counts as needing the person.
 */
export function healthOf(connection: Connection, now: Date): ConnectionHealth {
  if (connection.status === 'needs_reconnect') return 'needs_reconnect';
  const ends = [connection.tokenExpiresAt, connection.accessExpiresAt].filter((t): t is number => t !== null);
  if (ends.some((t) => t <= now.getTime())) return 'expired';
  return 'healthy';
}

/** A permission without words of its own is shown by its name alone. */
const noWords: ScopeWords = () => undefined;

export function presentStatusPage(connections: Connection[], now: Date, scopeWords: ScopeWords = noWords): StatusPage {
  const cards = connections.map((connection): ConnectionCard => {
    const health = healthOf(connection, now);
    const texts = (scopes: string[]) =>
      scopes.map((name) => ({ name, words: scopeWords(connection.provider, name) ?? name }));
    return {
      ...connection,
      health,
      needsYou: health !== 'healthy',
      expires: timeOrNull(connection.tokenExpiresAt, now),
      accessExpires: timeOrNull(connection.accessExpiresAt, now),
      accessLapsed:
        health === 'expired' && connection.accessExpiresAt !== null && connection.accessExpiresAt <= now.getTime(),
      accessEndsSoon:
        health === 'healthy' &&
        connection.accessExpiresAt !== null &&
        connection.accessExpiresAt - now.getTime() <= ACCESS_WARNING_MS,
      connected: timeText(connection.connectedAt, now),
      tokenIssued: timeText(connection.tokenIssuedAt, now),
      lastRefreshed: timeOrNull(connection.lastRefreshedAt, now),
      lastValidated: timeOrNull(connection.lastValidatedAt, now),
      grantedScopeTexts: texts(connection.grantedScopes),
      declinedScopeTexts: texts(connection.declinedScopes),
      next:
        connection.nextAction.kind === 'none' || health !== 'healthy'
          ? null
          : {
              kind: connection.nextAction.kind,
              when: timeText(connection.nextAction.at, now),
              // Due already: the keeper takes it on its next sweep.
              due: connection.nextAction.at <= now.getTime(),
            },
    };
  });
  return { cards, needingYou: cards.filter((card) => card.needsYou) };
}
