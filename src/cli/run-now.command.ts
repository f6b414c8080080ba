import { isAppError } from '../shared/errors';
import { type CliCommand, type CliContext, usageLine } from './cli-command';
import { createProgress } from './progress';

/**
 * `refresh` and `validate`: one connection (by id, @username or Instagram id) or all active ones, right
 * away, through the same lifecycle code as the keeper (leases included, so a running keeper and this
 * command never work on one connection at once). Ends with a summary; exit 1 if anything failed.
 */
function runNowCommand(kind: 'refresh' | 'validate'): CliCommand {
  return {
    name: kind,
    summary: `${kind} one connection or all active ones now`,
    usage: `${kind} <connection id | @username | account id> | --all`,
    options: { all: { type: 'boolean' } },
    maxPositionals: 1,
    async run(context: CliContext) {
      const { container, args, out, err } = context;
      const [named] = args.positionals;
      // Exactly one of a connection or --all.
      if (args.values.all === true ? named !== undefined : !named) {
        err.write(`${usageLine(this)}\n`);
        return 2;
      }
      const target = named ?? '--all';
      const username = target.startsWith('@') ? target.slice(1) : target;
      const targets = (await container.connections.listAll()).filter(
        (c) =>
          c.status === 'active' &&
          (target === '--all' || c.id === target || c.accountId === target || c.profile.username === username),
      );
      if (targets.length === 0) {
        err.write(`no active connection matches "${target}"\n`);
        return 1;
      }
      const progress = createProgress({ total: targets.length, label: kind, stream: err });
      const summary: Record<string, number> = {};
      const queue = [...targets];
      const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          let outcome: string;
          try {
            outcome = (await container.lifecycle.runNow(kind, next.id)).outcome;
          } catch (error) {
            if (!isAppError(error)) throw error;
            outcome = error.code.toLowerCase();
          }
          summary[outcome] = (summary[outcome] ?? 0) + 1;
          if (targets.length === 1) out.write(`@${next.profile.username}: ${outcome}\n`);
          progress.tick();
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(container.config.lifecycle.concurrency, targets.length) }, worker),
      );
      progress.done();
      const parts = Object.entries(summary)
        .sort()
        .map(([outcome, count]) => `${outcome}: ${count}`);
      out.write(`${kind} summary (${targets.length} connection(s)): ${parts.join(', ')}\n`);
      const failed = Object.entries(summary).some(
        ([outcome]) => !['ok', 'refresh_too_early', 'busy'].includes(outcome),
      );
      return failed ? 1 : 0;
    },
  };
}

export const refreshCommand = runNowCommand('refresh');
export const validateCommand = runNowCommand('validate');
