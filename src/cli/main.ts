import { createContainer } from '../main/container';
import { exitOnStartupError, loadRuntimeConfig } from '../main/boot';
import {
  type CliArgs,
  type CliCommand,
  CliUsageError,
  parseCommandArgs,
  type StandaloneCliCommand,
  usageLine,
} from './cli-command';
import { apiKeysCreateCommand, apiKeysListCommand, apiKeysRevokeCommand } from './api-keys.command';
import { auditCommand } from './audit.command';
import { connectionsListCommand } from './connections-list.command';
import { doctorCommand } from './doctor.command';
import { eventsListCommand, eventsRedeliverCommand } from './events.command';
import { keysRotateCommand } from './keys-rotate.command';
import { keysStatusCommand } from './keys-status.command';
import { migrateCommand } from './migrate.command';
import { pruneCommand } from './prune.command';
import { refreshCommand, validateCommand } from './run-now.command';
import { scheduleCommand } from './schedule.command';

/** `npm run cli -- <command> [args]`: admin commands over the same container as the web process. */
export const COMMANDS: (CliCommand | StandaloneCliCommand)[] = [
  migrateCommand,
  connectionsListCommand,
  refreshCommand,
  validateCommand,
  scheduleCommand,
  keysRotateCommand,
  keysStatusCommand,
  apiKeysCreateCommand,
  apiKeysListCommand,
  apiKeysRevokeCommand,
  auditCommand,
  eventsListCommand,
  eventsRedeliverCommand,
  pruneCommand,
  doctorCommand,
];

export function findCommand(
  argv: string[],
): { command: CliCommand | StandaloneCliCommand; args: string[] } | undefined {
  const matches = COMMANDS.filter((c) => {
    const words = c.name.split(' ');
    return words.every((w, i) => argv[i] === w);
  }).sort((a, b) => b.name.length - a.name.length);
  const command = matches[0];
  return command ? { command, args: argv.slice(command.name.split(' ').length) } : undefined;
}

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map(
    (c) => `  ${c.name.padEnd(width)}  ${c.summary}${c.usage ? `\n  ${' '.repeat(width)}  usage: ${c.usage}` : ''}`,
  );
  return `usage: npm run cli -- <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const found = findCommand(argv);
  if (!found) {
    const asked = argv[0] === undefined || argv[0] === 'help' || argv[0] === '--help';
    (asked ? process.stdout : process.stderr).write(help());
    return asked ? 0 : 2;
  }
  let args: CliArgs;
  try {
    args = parseCommandArgs(found.command, found.args);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    // Refused before any configuration is read or any database opened: nothing has run.
    process.stderr.write(`${found.command.name}: ${error.message}\n${usageLine(found.command)}\n`);
    return 2;
  }
  if ('standalone' in found.command) {
    return found.command.run({ args, out: process.stdout, err: process.stderr });
  }
  const { config } = loadRuntimeConfig();
  const container = await createContainer({
    ...config,
    logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel,
  });
  try {
    return await found.command.run({ container, args, out: process.stdout, err: process.stderr });
  } finally {
    await container.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => exitOnStartupError('igconnect cli', error),
  );
}
