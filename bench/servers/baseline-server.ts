import { createServer } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { createDb } from '../../src/db/create-db';
import { migrateToLatest } from '../../src/db/migrate';
import { KyselySessionStore } from '../../src/http/session-store';
import { IDLE_TIMEOUT_MS } from '../../src/http/session';
import { DAY, systemClock } from '../../src/shared/clock';
import { PROJECT_ROOT } from '../../src/shared/project-root';
import { announceReady, serveRequests } from '../support/ipc-server';

declare module 'express-session' {
  interface SessionData {
    benchUser?: string;
  }
}

/**
 * The floor any Express app pays for a signed-in page: Express 5, helmet with its defaults, express-
 * session with igconnect's own store class (KyselySessionStore) over the same kind of database, and an
 * EJS page padded to the byte size of igconnect's status page (told at run time, since that page changes).
 * No logging, no passport, no database query beyond the session. BASELINE_BEHIND_PROXY=1 (the bench's
 * production-shaped mode, with NODE_ENV=production): trusts the loopback proxy's X-Forwarded-Proto and
 * sets a Secure cookie, as igconnect does behind its proxy.
 */
async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.BASELINE_PORT);
  // The same kind of database as igconnect's in this run: an SQLite file of its own, or the same PostgreSQL.
  const url = env.BASELINE_DATABASE_URL ?? '';
  const db = createDb(
    url.startsWith('sqlite:')
      ? { kind: 'sqlite', filename: url.slice('sqlite:'.length) }
      : { kind: 'postgres', url, poolMax: 10, timeoutMs: 5000 },
  );
  await migrateToLatest(db);

  const behindProxy = env.BASELINE_BEHIND_PROXY === '1';
  const app = express();
  app.disable('x-powered-by');
  if (behindProxy) app.set('trust proxy', 'loopback');
  app.set('views', join(PROJECT_ROOT, 'bench', 'views'));
  app.set('view engine', 'ejs');
  app.enable('view cache');
  app.use(helmet());
  app.use(
    session({
      name: 'baseline.sid',
      secret: env.BASELINE_SESSION_SECRET ?? '',
      store: new KyselySessionStore(db, systemClock, IDLE_TIMEOUT_MS),
      resave: false,
      saveUninitialized: false,
      rolling: false,
      proxy: behindProxy,
      cookie: { httpOnly: true, sameSite: 'lax', secure: behindProxy, path: '/', maxAge: 14 * DAY },
    }),
  );

  const items = ['first.account', 'second.account', 'third.account'];
  let padding = '';
  app.get('/sign-in', (req, res) => {
    req.session.benchUser = 'bench-user';
    res.type('text/plain').send('signed in');
  });
  app.get('/page', (req, res) => {
    if (!req.session.benchUser) {
      res.status(401).send('not signed in');
      return;
    }
    res.set('Cache-Control', 'no-store');
    res.render('baseline-page', { user: req.session.benchUser, items, padding });
  });

  serveRequests({
    /** Pads the page so that its body has exactly `bytes` bytes. */
    pageBytes: async (message) => {
      const bytes = Number(message.bytes);
      padding = '';
      const bare = await render({ user: 'bench-user', items, padding });
      padding = 'x'.repeat(Math.max(0, bytes - Buffer.byteLength(bare)));
      return Buffer.byteLength(await render({ user: 'bench-user', items, padding }));
    },
  });

  function render(locals: Record<string, unknown>): Promise<string> {
    return new Promise((resolve, reject) =>
      app.render('baseline-page', locals, (error: Error | null, html?: string) =>
        error ? reject(error) : resolve(html ?? ''),
      ),
    );
  }

  const server = createServer(app);
  server.keepAliveTimeout = 30_000;
  server.listen(port, '127.0.0.1', () => announceReady(`http://127.0.0.1:${port}`));
  process.on('SIGTERM', () => server.close(() => void db.destroy().then(() => process.exit(0))));
}

main().catch((error: unknown) => {
  process.stderr.write(`baseline-server failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
