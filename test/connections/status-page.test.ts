import { presentStatusPage } from '../../src/connections/connections.presenter';
import type { Connection } from '../../src/connections/connections.service';

const now = new Date(Date.UTC(2026, 10, 1, 12, 0, 0));
const DAY = 24 * 3600 * 1000;

function connection(overrides: Partial<Connection>): Connection {
  return {
    id: 'c1',
    userId: 'u1',
    endUserId: null,
    provider: 'instagram',
    subjectId: '26173461234567891',
    accountId: '17841405793187219',
    profile: {
      username: 'sunny.bakery',
      name: 'Sunny Bakery',
      accountType: 'BUSINESS',
      profilePictureUrl: null,
      followersCount: null,
      mediaCount: null,
    },
    grantedScopes: ['instagram_business_basic'],
    requestedScopes: ['instagram_business_basic'],
    declinedScopes: [],
    status: 'active',
    statusReason: null,
    tokenFingerprint: 'abc',
    tokenIssuedAt: now.getTime() - DAY,
    tokenExpiresAt: now.getTime() + 59 * DAY,
    accessExpiresAt: null,
    connectedAt: now.getTime() - DAY,
    updatedAt: now.getTime() - DAY,
    lastRefreshedAt: null,
    lastRefreshOutcome: null,
    lastValidatedAt: null,
    lastValidationOutcome: null,
    lastError: null,
    failureCount: 0,
    backoffUntil: null,
    nextAction: { kind: 'refresh', at: now.getTime() + 49 * DAY },
    ...overrides,
  };
}

describe('the status page at a glance', () => {
  it('when every token is active and unexpired, then nothing needs the person', () => {
    const page = presentStatusPage([connection({}), connection({ id: 'c2' })], now);
    expect(page.cards.map((c) => c.health)).toEqual(['healthy', 'healthy']);
    expect(page.needingYou).toEqual([]);
    expect(page.cards[0]?.expires).toEqual({
      iso: '2026-12-30T12:00:00.000Z',
      relative: 'in 59 days',
      absolute: 'Wed, 30 Dec 2026, 12:00 UTC',
    });
    expect(page.cards[0]?.connected.relative).toBe('24 hours ago');
  });

  it('when a connection needs reconnecting, then it is the one that needs the person', () => {
    const page = presentStatusPage([connection({}), connection({ id: 'c2', status: 'needs_reconnect' })], now);
    expect(page.needingYou.map((c) => [c.id, c.health])).toEqual([['c2', 'needs_reconnect']]);
  });

  it('when a token is past its expiry though still marked active, then it shows as expired and needs the person', () => {
    const page = presentStatusPage([connection({ tokenExpiresAt: now.getTime() - 2 * DAY })], now);
    expect(page.cards[0]?.health).toBe('expired');
    expect(page.cards[0]?.expires?.relative).toBe('2 days ago');
    expect(page.needingYou).toHaveLength(1);
  });

  it('when the next check is already due, then it says it happens shortly, not in the past', () => {
    const overdue = connection({ nextAction: { kind: 'validate', at: now.getTime() - 2 * 3600 * 1000 } });
    const [card] = presentStatusPage([overdue], now).cards;
    expect(card?.next).toMatchObject({ kind: 'validate', due: true });
    const later = connection({ nextAction: { kind: 'refresh', at: now.getTime() + DAY } });
    expect(presentStatusPage([later], now).cards[0]?.next).toMatchObject({ kind: 'refresh', due: false });
  });
});
