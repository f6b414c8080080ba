import { Router } from 'express';
import type { Kysely } from 'kysely';
import { pingDatabase } from '../db/migrate';
import type { Database } from '../db/schema';

/** /healthz: the process answers. /readyz: the database answers too (else 503, so a balancer drains us). */
export function createHealthRouter(db: Kysely<Database>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      await pingDatabase(db);
      res.json({ status: 'ready' });
    } catch (error) {
      req.log.warn({ err: error }, 'readiness check: database did not answer');
      res.status(503).json({ status: 'unavailable', reason: 'database' });
    }
  });
  return router;
}
