import type { Kysely } from 'kysely';
import { Authenticator } from 'passport';
import type { ConnectionsService } from '../connections/connections.service';
import type { PendingChoices } from '../connections/pending-choices';
import type { Database } from '../db/schema';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';
import { userExists } from '../users/users.repository';
import { skippedText } from './outcome';
import { ProviderStrategy } from './provider-strategy';
import { TransactionStore } from './transaction-store';

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
  connections: ConnectionsService;
  choices: PendingChoices;
}) {
  const passport = new Authenticator();

  for (const provider of deps.providers.all()) {
    const transactions = new TransactionStore(deps.db, deps.clock, provider.id);
    passport.use(
      new ProviderStrategy(provider, deps.http, transactions, async (req, result) => {
        if (result.accounts.length === 0) {
          throw new AppError('CONNECT_NO_ACCOUNTS', skippedText(result.skipped) || undefined);
        }
        const requestedScopes =
          provider.authorization.scopes.length > 0
            ? provider.authorization.scopes
            : (result.accounts[0]?.grantedScopes ?? []);
        if (result.accounts.length > 1) {
          // Several accounts: the person picks (all preselected) before anything is stored.
          const id = await deps.choices.hold(req.sessionID, {
            provider: provider.id,
            accounts: result.accounts,
            skipped: result.skipped,
            requestedScopes,
            context: {},
          });
          req.session.pendingChoice = { id, provider: provider.id };
          return { redirect: `/auth/${provider.id}/choose` };
        }
        // A signed-in person adds the accounts to their own connections; anyone else gets a user of their
        // own. Connecting never signs the browser in as somebody who connected the same account before.
        const { userId, connections } = await deps.connections.connect({
          userId: req.user?.id,
          provider: provider.id,
          accounts: result.accounts,
          requestedScopes,
        });
        return {
          user: { id: userId },
          info: { usernames: connections.map((c) => c.profile.username), skipped: result.skipped },
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
