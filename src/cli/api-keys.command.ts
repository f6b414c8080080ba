import { createApiKey, listApiKeys, revokeApiKey } from '../api/api-keys';
import { type CliCommand, stringFlag } from './cli-command';
import { table } from './format';

/**
 * API keys for the deployer's backend. `create` prints the new key once, alone on the last line of
 * stdout (so `| tail -n 1` captures it); igconnect keeps only its hash, so it can never be shown again.
 */
export const apiKeysCreateCommand: CliCommand = {
  name: 'api-keys create',
  summary: 'make an API key; it is printed once, alone on the last line',
  usage: 'api-keys create --name NAME [--json]',
  options: { name: { type: 'string' }, json: { type: 'boolean' } },
  async run({ container, args, out, err }) {
    const name = stringFlag(args, 'name')?.trim();
    if (!name || name.length > 100) {
      err.write('--name is required (1 to 100 characters): what the key is for, e.g. "billing backend"\n');
      return 2;
    }
    const created = await createApiKey(container.db, name, container.clock.now());
    if (args.values.json === true) {
      out.write(`${JSON.stringify(created)}\n`);
      return 0;
    }
    out.write(`created API key ${created.id} (${created.name}); it is shown only now:\n${created.key}\n`);
    return 0;
  },
};

export const apiKeysListCommand: CliCommand = {
  name: 'api-keys list',
  summary: 'list API keys (never the keys themselves)',
  usage: 'api-keys list [--json]',
  options: { json: { type: 'boolean' } },
  async run({ container, args, out }) {
    const keys = await listApiKeys(container.db);
    if (args.values.json === true) {
      out.write(`${JSON.stringify(keys)}\n`);
      return 0;
    }
    out.write(
      table(
        ['id', 'name', 'created', 'revoked'],
        keys.map((k) => [k.id, k.name, k.created_at, k.revoked_at ?? '-']),
      ),
    );
    return 0;
  },
};

export const apiKeysRevokeCommand: CliCommand = {
  name: 'api-keys revoke',
  summary: 'revoke an API key at once (requests with it get 401)',
  usage: 'api-keys revoke ID',
  maxPositionals: 1,
  async run({ container, args, out, err }) {
    const id = args.positionals[0];
    if (!id) {
      err.write('usage: npm run cli -- api-keys revoke ID\n');
      return 2;
    }
    if (!(await revokeApiKey(container.db, id, container.clock.now()))) {
      err.write(`no API key with id ${id}\n`);
      return 1;
    }
    out.write(`revoked ${id}\n`);
    return 0;
  },
};
