import { listTokenReads } from '../api/token-reads';
import { type CliCommand, stringFlag } from './cli-command';
import { table } from './format';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 10_000;

/** Who read which connection's token through the API, most recent first (the token is never recorded). */
export const auditCommand: CliCommand = {
  name: 'audit',
  summary: 'token reads through the API: key, connection, time, renewed (most recent first)',
  usage: 'audit [--connection ID] [--limit N] [--json]',
  options: { connection: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  async run({ container, args, out, err }) {
    const limitText = stringFlag(args, 'limit') ?? String(DEFAULT_LIMIT);
    const limit = /^\d{1,6}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) {
      err.write(`--limit must be a whole number from 1 to ${MAX_LIMIT} (got "${limitText}")\n`);
      return 2;
    }
    const connectionId = stringFlag(args, 'connection');
    if (connectionId !== undefined && connectionId.trim() === '') {
      err.write('--connection needs a connection id\n');
      return 2;
    }
    const reads = await listTokenReads(container.db, { connectionId, limit });
    if (args.values.json === true) {
      out.write(`${JSON.stringify(reads)}\n`);
      return 0;
    }
    out.write(
      table(
        ['read at', 'key', 'key name', 'connection', 'renewed'],
        reads.map((r) => [r.read_at, r.api_key_id, r.api_key_name ?? '-', r.connection_id, r.renewed ? 'yes' : 'no']),
      ),
    );
    out.write(`${reads.length} read(s)${reads.length === limit ? ` (the latest ${limit}; --limit for more)` : ''}\n`);
    return 0;
  },
};
