import type { Kysely } from 'kysely';
import { Authenticator } from 'passport';
import type { ConnectionsService } from '../connections/connections.service';
import type { Database } from '../db/database';
import type { ProviderDefinition } from '../providers/provider-definition';
import type { HttpClient } from '../shared/http-client';
import { userExists } from '../users/users.repository';
import { ProviderStrategy } from './provider-strategy';
import type { TransactionStore } from './transaction-store';

/** Builds the Authenticator (no global passport singleton, so tests can run several apps side by side). */
export function createPassport(deps: {
  db: Kysely<Database>;
  provider: ProviderDefinition;
  http: HttpClient;
  transactions: TransactionStore;
  connections: ConnectionsService;
}) {
  const passport = new Authenticator();

  passport.use(
    new ProviderStrategy(deps.provider, deps.http, deps.transactions, (req, accessToken, result, done) => {
      deps.connections
        .connect({
          currentUserId: req.user?.id,
          provider: deps.provider.id,
          profile: result.profile,
          token: { accessToken, expiresInSeconds: result.expiresInSeconds },
          grantedScopes: result.grant.permissions,
          requestedScopes: deps.provider.scopes,
        })
        .then(({ userId, connection }) => done(null, { id: userId }, { username: connection.username }), done);
    }),
  );

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
