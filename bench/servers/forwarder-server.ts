import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { Agent, request } from 'undici';
import { announceReady } from '../support/ipc-server';

/**
 * The floor of any Graph proxy on this rig: a bare forwarder that does nothing but pass each request on
 * to the sandbox over kept-alive connections (undici, as igconnect's HTTP client) and send the answer
 * back. No key, no limit, no database, no log. Proxied calls through igconnect are compared with it and
 * with direct calls in the same run.
 *
 * With FORWARDER_FRAMEWORK=express the same forwarding is the one route of a bare Express app (no
 * middleware): the floor of any proxy served by Express on this rig.
 *
 *   FORWARDER_PORT       where it listens (127.0.0.1)
 *   FORWARDER_UPSTREAM   the sandbox's origin; its authority comes through NODE_EXTRA_CA_CERTS
 */
const port = Number(process.env.FORWARDER_PORT);
const upstream = process.env.FORWARDER_UPSTREAM ?? '';
const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 64 });

const forward = (req: IncomingMessage, res: ServerResponse) => {
  const authorization = req.headers.authorization;
  request(`${upstream}${req.url ?? '/'}`, {
    method: 'GET',
    headers: authorization ? { authorization } : {},
    dispatcher,
  }).then(
    async (answer) => {
      const body = Buffer.from(await answer.body.arrayBuffer());
      const type = answer.headers['content-type'];
      res.writeHead(answer.statusCode, {
        ...(typeof type === 'string' ? { 'content-type': type } : {}),
        'content-length': String(body.length),
      });
      res.end(body);
    },
    () => {
      res.writeHead(502).end();
    },
  );
};
function expressForwarder(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/{*path}', (req, res) => forward(req, res));
  return app;
}
const server = createServer(process.env.FORWARDER_FRAMEWORK === 'express' ? expressForwarder() : forward);
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => announceReady(`http://127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
