import express, { Router } from 'express';
import type { Clock } from '../shared/clock';
import type { SandboxControl } from './sandbox-control';

/**
 * A little of SandboxControl over HTTP, for tests that run the sandbox as a process of its own (several
 * app instances, keepers): read and reset the per-endpoint call counters, and mint long-lived tokens to
 * seed connections without the browser dance, for Instagram Login and (below /facebook) Facebook Login
 * for Business. Mounted only by the standalone sandbox server.
 */
export function createSandboxControlRouter(
  control: SandboxControl,
  clock?: Clock & { advance(ms: number): void },
): Router {
  const router = Router();
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  router.get('/calls', (_req, res) => {
    res.json(control.calls);
  });
  router.post('/calls/reset', (_req, res) => {
    control.resetCalls();
    res.status(204).end();
  });
  // The sandbox's time, for tests whose tokens must age (refreshes need tokens at least 24 hours old):
  // GET says what time it is, POST {"advanceMs": n} moves it forward. Only a clock of the sandbox's own.
  if (clock) {
    router.get('/clock', (_req, res) => {
      res.json({ now: clock.now() });
    });
    router.post('/clock', express.json({ limit: '1kb' }), (req, res) => {
      const advanceMs = (req.body as { advanceMs?: unknown } | undefined)?.advanceMs;
      if (typeof advanceMs !== 'number' || !Number.isSafeInteger(advanceMs) || advanceMs < 0) {
        res.status(400).json({ error: 'expected {"advanceMs": <whole milliseconds, 0 or more>}' });
        return;
      }
      clock.advance(advanceMs);
      res.json({ now: clock.now() });
    });
  }
  // A platform incident: POST {"code": 190, "subcode"?: 460, "message"?: "…", "status"?: 400} makes every
  // Graph call answer that Graph error; DELETE ends it.
  router.post('/incident', express.json({ limit: '2kb' }), (req, res) => {
    const body = (req.body ?? {}) as { code?: unknown; subcode?: unknown; message?: unknown; status?: unknown };
    const whole = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (
      !whole(body.code) ||
      (body.subcode !== undefined && !whole(body.subcode)) ||
      (body.message !== undefined && typeof body.message !== 'string') ||
      (body.status !== undefined && (!whole(body.status) || (body.status as number) < 400))
    ) {
      res.status(400).json({ error: 'expected {"code": n, "subcode"?: n, "message"?: "…", "status"?: 4xx|5xx}' });
      return;
    }
    const answer = control.graphError(
      body.code as number,
      body.subcode as number | undefined,
      body.message as string | undefined,
    );
    control.setIncident(body.status === undefined ? answer : { ...answer, status: body.status as number });
    res.status(204).end();
  });
  router.delete('/incident', (_req, res) => {
    control.setIncident(undefined);
    res.status(204).end();
  });
  // Every current token of an account answers 190/467 from now on (the person removed the app, say).
  router.post('/revoke', express.json({ limit: '1kb' }), (req, res) => {
    const account = (req.body as { account?: unknown } | undefined)?.account;
    if (typeof account !== 'string') {
      res.status(400).json({ error: 'expected {"account": "<ig user id>"}' });
      return;
    }
    try {
      control.revokeTokens(account);
      res.status(204).end();
    } catch {
      res.status(404).json({ error: 'no such sandbox account' });
    }
  });
  router.post('/tokens', express.json({ limit: '1kb' }), (req, res) => {
    const body = (req.body ?? {}) as { account?: unknown; issuedAt?: unknown };
    if (typeof body.account !== 'string' || (body.issuedAt !== undefined && typeof body.issuedAt !== 'number')) {
      res.status(400).json({ error: 'expected {"account": "<ig user id>", "issuedAt"?: <epoch ms>}' });
      return;
    }
    try {
      const accessToken = control.issueLongLivedToken(body.account, { issuedAt: body.issuedAt });
      res.status(201).json({ access_token: accessToken });
    } catch {
      res.status(404).json({ error: 'no such sandbox account' });
    }
  });
  router.get('/facebook/calls', (_req, res) => {
    res.json(control.facebook.calls);
  });
  router.post('/facebook/calls/reset', (_req, res) => {
    control.facebook.resetCalls();
    res.status(204).end();
  });
  router.post('/facebook/tokens', express.json({ limit: '1kb' }), (req, res) => {
    const body = (req.body ?? {}) as { person?: unknown; issuedAt?: unknown };
    if (typeof body.person !== 'string' || (body.issuedAt !== undefined && typeof body.issuedAt !== 'number')) {
      res.status(400).json({ error: 'expected {"person": "<app-scoped Facebook user id>", "issuedAt"?: <epoch ms>}' });
      return;
    }
    let seeded;
    try {
      seeded = control.facebook.issueTokens(body.person, { issuedAt: body.issuedAt });
    } catch {
      res.status(404).json({ error: 'no such sandbox Facebook person' });
      return;
    }
    // Ids are strings here: this answer is for tests, not a copy of a Meta wire format.
    res.status(201).json({
      user_access_token: seeded.userAccessToken,
      user_token_expires_at: seeded.userTokenExpiresAt,
      pages: seeded.pages.map((page) => ({
        id: page.id,
        name: page.name,
        access_token: page.accessToken,
        instagram_business_account_id: page.instagramBusinessAccountId ?? null,
      })),
    });
  });
  return router;
}
