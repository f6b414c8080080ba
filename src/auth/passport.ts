import type { Kysely } from 'kysely';
import { Authenticator } from 'passport';
import { ConnectLinkGone, type ConnectSessions } from '../connect-sessions/connect-sessions.service';
import type { ConnectionsService } from '../connections/connections.service';
import type { PendingChoices } from '../connections/pending-choices';
import { isDatabaseUnavailable } from '../db/database-errors';
import type { Database } from '../db/schema';
import type { AuthorizedAccount } from '../providers/provider-definition';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';
import { userExists } from '../users/users.repository';
import { skippedDetail } from './outcome';
import { ProviderStrategy } from './provider-strategy';
import { TransactionStore } from './transaction-store';

/** Accounts a flow authorized, ready to store. */
export interface Authorized {
  provider: string;
  accounts: AuthorizedAccount[];
  requestedScopes: string[];
}

/**
 * Stores what a flow authorized, for whom it was for: a connect link's end user (the link is used up in
 * the same transaction), or the signed-in person, or else a new user of this browser's own. Connecting
 * never signs the browser in as somebody who connected the same account before.
 */
export type ConnectFinisher = (
  req: Express.Request,
  authorized: Authorized,
  connectSessionId: string | undefined,
) => ReturnType<ConnectionsService['connect']>;

export function connectFinisher(deps: {
  connections: ConnectionsService;
  connectSessions: ConnectSessions;
}): ConnectFinisher {
  const store = async (req: Express.Request, authorized: Authorized, connectSessionId: string | undefined) => {
    if (!connectSessionId) return deps.connections.connect({ ...authorized, userId: req.user?.id });
    // The connections belong to the link's end user, whoever this browser is signed in as; a link that
    // another browser used meanwhile (or that expired) rolls this connect back and nothing of it stays.
    const link = await deps.connectSessions.find(connectSessionId);
    if (!link) throw new ConnectLinkGone('expired', undefined);
    return deps.connections.connect({
      ...authorized,
      endUserId: link.endUserId,
      inTransaction: (trx) => deps.connectSessions.useUp(trx, link.id),
    });
  };
  return async (req, authorized, connectSessionId) => {
    try {
      return await store(req, authorized, connectSessionId);
    } catch (error) {
      // The provider has issued tokens by now; the write was retried until its deadline. Say so loudly.
      if (isDatabaseUnavailable(error)) {
        (req as Express.Request & { log?: { error(details: object, message: string): void } }).log?.error(
          { provider: authorized.provider, accounts: authorized.accounts.map((a) => a.accountId) },
          'the provider authorized the accounts but igconnect could not store them',
        );
      }
      throw error;
    }
  };
}

/**
 * Builds the Authenticator (no global passport singleton, so tests can run several apps side by side),
 * with one ProviderStrategy per configured provider, each with its own state store: a state minted for
 * one provider is refused at another's callback.
 */
export function createPassport(deps: {
  db: Kysely<Database>;
  clock: Clock;
  providers: ProviderRegistry;
  http: HttpClient;
  choices: PendingChoices;
  finish: ConnectFinisher;
}) {
  const passport = new Authenticator();

  for (const provider of deps.providers.all()) {
    const transactions = new TransactionStore(deps.db, deps.clock, provider.id);
    passport.use(
      new ProviderStrategy(provider, deps.http, transactions, async (req, result, flow) => {
        if (result.accounts.length === 0) {
          throw new AppError('CONNECT_NO_ACCOUNTS', skippedDetail(result.skipped));
        }
        const authorized: Authorized = {
          provider: provider.id,
          accounts: result.accounts,
          // A Login for Business configuration names its permissions in Meta's dashboard, not here.
          requestedScopes:
            provider.authorization.scopes.length > 0
              ? provider.authorization.scopes
              : (result.accounts[0]?.grantedScopes ?? []),
        };
        if (result.accounts.length > 1) {
          // Several accounts: the person picks (all preselected) before anything is stored.
          const id = await deps.choices.hold(req.sessionID, {
            ...authorized,
            skipped: result.skipped,
            context: flow.connectSessionId ? { connectSessionId: flow.connectSessionId } : {},
          });
          req.session.pendingChoice = { id, provider: provider.id };
          return { redirect: `/auth/${provider.id}/choose` };
        }
        const { userId, connections } = await deps.finish(req, authorized, flow.connectSessionId ?? undefined);
        return {
          user: { id: userId },
          info: {
            usernames: connections.map((c) => c.profile.username),
            connectionIds: connections.map((c) => c.id),
            skipped: result.skipped,
          },
        };
      }),
    );
  }

  // Only the user id lives in the session; tokens never do.
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id: unknown, done) => {
    if (typeof id !== 'string') return done(null, false);
    // A user whose data was deleted is signed out on their next request.
    userExists(deps.db, id).then((exists) => done(null, exists ? { id } : false), done);
  });
  return passport;
}

export type Passport = ReturnType<typeof createPassport>;
