import { createServer } from 'node:http';
import express from 'express';
import { loadSandboxServerConfig } from '../sandbox/sandbox-server-config';
import { createSandboxAppWithControl } from '../sandbox/sandbox';
import { createSandboxControlRouter } from '../sandbox/sandbox-control.routes';
import { OffsetClock } from '../shared/clock';
import { createLogger } from '../shared/logger';
import { exitOnStartupError } from './boot';

/**
 * `npm run sandbox`: the fake Instagram as a process of its own, both ways in. The built-in sandbox
 * lives in the memory of one app process, so several instances behind a balancer need one sandbox they
 * all reach: point each instance's INSTAGRAM_* and FACEBOOK_* URLs here (live mode, numeric app ids).
 */
function main(): void {
  const config = loadSandboxServerConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  // Real time, which tests may move ahead through the control routes (tokens age, refreshes come due).
  const clock = new OffsetClock();
  const { app: sandbox, control } = createSandboxAppWithControl({
    clock,
    clientId: config.appId,
    clientSecret: config.appSecret,
    redirectUris: config.redirectUris,
    basePath: '',
    publicUrl: config.publicUrl,
    logger,
    facebook: {
      clientId: config.facebook.appId,
      clientSecret: config.facebook.appSecret,
      redirectUris: config.facebook.redirectUris,
    },
  });
  const app = express();
  app.disable('x-powered-by');
  app.use('/_control', createSandboxControlRouter(control, clock));
  app.use(sandbox);

  const server = createServer(app);
  // Loopback only: the sandbox has unauthenticated control routes and is a development and test tool.
  server.listen(config.port, '127.0.0.1', () => {
    logger.info(
      {
        url: config.publicUrl,
        authorizeUrl: `${config.publicUrl}/oauth/authorize`,
        tokenUrl: `${config.publicUrl}/oauth/access_token`,
        graphUrl: `${config.publicUrl}/graph`,
        facebookAuthorizeUrl: `${config.publicUrl}/facebook/v25.0/dialog/oauth`,
        facebookGraphUrl: `${config.publicUrl}/facebook/graph`,
      },
      `Instagram sandbox listening on ${config.publicUrl}`,
    );
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

try {
  main();
} catch (error) {
  exitOnStartupError('igconnect sandbox', error);
}
