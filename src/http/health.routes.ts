import { Router } from 'express';
import type { Kysely } from 'kysely';
import { checkReadiness } from '../db/database-health';
import type { Database } from '../db/schema';

/**
 * /healthz: the process answers (it never touches the database, so a locked or lost database cannot
 * make a liveness probe restart a healthy process). /readyz: the database answers and writes are not
 * known to fail (else 503, so a balancer drains us until a probe write succeeds again).
 */
export function createHealthRouter(db: Kysely<Database>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const readiness = await checkReadiness(db);
    if (readiness.ready) {
      res.json({ status: 'ready' });
      return;
    }
    req.log.warn(
      { reason: readiness.reason, code: readiness.code },
      readiness.reason === 'database'
        ? 'readiness check: database did not answer'
        : 'readiness check: database writes fail',
    );
    res
      .status(503)
      .json({ status: 'unavailable', reason: readiness.reason, ...(readiness.code ? { code: readiness.code } : {}) });
  });
  return router;
}
