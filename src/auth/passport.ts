import type { Kysely } from 'kysely';
import { Authenticator } from 'passport';
import { ConnectLinkGone, type ConnectSessions } from '../connect-sessions/connect-sessions.service';
import type { ConnectionsService } from '../connections/connections.service';
import type { Database } from '../db/schema';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import type { HttpClient } from '../shared/http-client';
import { userExists } from '../users/users.repository';
import { ProviderStrategy } from './provider-strategy';
import { TransactionStore } from './transaction-store';

/**
 * Builds the Authenticator (no global passport singleton, so tests can run several apps side by side),
 * with one ProviderStrategy per configured provider, each with its own state store: a state minted for
 * one provider is refused at another's callback. A flow opened through a connect link stores its
 * connections for the link's end user and uses the link up in the same transaction.
 */
export function createPassport(deps: {
  db: Kysely<Database>;
  clock: Clock;
  providers: ProviderRegistry;
  http: HttpClient;
  connections: ConnectionsService;
  connectSessions: ConnectSessions;
}) {
  const passport = new Authenticator();

  for (const provider of deps.providers.all()) {
    const transactions = new TransactionStore(deps.db, deps.clock, provider.id);
    passport.use(
      new ProviderStrategy(provider, deps.http, transactions, async (req, result, flow) => {
        const authorized = {
          provider: provider.id,
          accounts: result.accounts,
          requestedScopes: provider.authorization.scopes,
        };
        const { userId, connections } = flow.connectSessionId
          ? await connectForLink(flow.connectSessionId, authorized)
          : // A signed-in person adds the accounts to their own connections; anyone else gets a user of
            // their own. Connecting never signs the browser in as somebody who connected the same account.
            await deps.connections.connect({ ...authorized, userId: req.user?.id });
        return {
          user: { id: userId },
          info: { usernames: connections.map((c) => c.profile.username), connectionIds: connections.map((c) => c.id) },
        };
      }),
    );
  }

  /**
   * The connections belong to the link's end user, whoever this browser is signed in as; the link is
   * used up inside the connect's transaction, so a link that another browser used meanwhile (or that
   * expired) rolls this connect back and nothing of it stays.
   */
  async function connectForLink(
    connectSessionId: string,
    authorized: Pick<Parameters<ConnectionsService['connect']>[0], 'provider' | 'accounts' | 'requestedScopes'>,
  ) {
    const link = await deps.connectSessions.find(connectSessionId);
    if (!link) throw new ConnectLinkGone('expired', undefined);
    return deps.connections.connect({
      ...authorized,
      endUserId: link.endUserId,
      inTransaction: (trx) => deps.connectSessions.useUp(trx, link.id),
    });
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
