import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Bench servers run as child processes (the load generator must not share their event loop). They
 * answer requests over the IPC channel; memory and CPU time are read from /proc, so the figures are
 * those of the child alone.
 */
interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface ChildOptions {
  env: Record<string, string>;
  cwd?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  execArgv?: string[];
  /**
   * Where the child's stdout goes: discarded by default, or a file descriptor (igconnect's logs go to a file,
   * written by pino as in a deployment, so that the bench can tell they were on and what they cost).
   */
  stdout?: 'ignore' | 'inherit' | number;
}

export class ChildServer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
    readonly url: string,
  ) {
    process.on('message', (message: Reply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${name}: ${message.error ?? 'failed'}`));
    });
  }

  /** Forks the script and waits for its `{ type: 'ready', url }` message (60 s at most). */
  static async start(name: string, script: string, options: ChildOptions): Promise<ChildServer> {
    const child = fork(script, [], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      cwd: options.cwd,
      execArgv: options.execArgv ?? [],
      stdio: ['ignore', options.stdout ?? 'ignore', 'inherit', 'ipc'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
      child.once('exit', (code) => reject(new Error(`${name} exited with code ${String(code)} before it was ready`)));
      child.once('message', (message: { type?: string; url?: string }) => {
        clearTimeout(timer);
        if (message.type === 'ready' && message.url) resolve(message.url);
        else reject(new Error(`${name} sent ${JSON.stringify(message)} instead of ready`));
      });
    });
    return new ChildServer(name, child, url);
  }

  call<T>(type: string, payload: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.process.send({ id, type, ...payload });
    });
  }

  get pid(): number {
    if (this.process.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.process.pid;
  }

  memory(): ProcessMemory {
    return processMemory(this.pid);
  }

  cpuMs(): number {
    return processCpuMs(this.pid);
  }

  /** Resets the peak resident set size (VmHWM) so a later reading covers only what follows. */
  resetPeakMemory(): void {
    writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
  }

  /** SIGTERM, then SIGKILL after 10 s; resolves when the child is gone. */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface ProcessMemory {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Of which anonymous memory (heaps: V8's and malloc's) and file-backed pages (the node binary, libraries). */
  rssAnonMb: number;
  rssFileMb: number;
  /** Peak resident set size (VmHWM) since start or the last reset, MB. */
  peakRssMb: number;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return {
    rssMb: round(kb('VmRSS') / 1024),
    rssAnonMb: round(kb('RssAnon') / 1024),
    rssFileMb: round(kb('RssFile') / 1024),
    peakRssMb: round(kb('VmHWM') / 1024),
  };
}

/** User + system CPU time of a process, from /proc/<pid>/stat (clock ticks of 10 ms). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10;
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
