import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Bad days of the storage under a running app, made real: another process holding SQLite's write lock
 * (as a backup, `sqlite3` in a shell or a CLI sweep does), and a small disk that fills up or turns
 * read-only under the database.
 */
const ROOT = join(__dirname, '../..');

/** What the lock holder runs: better-sqlite3 in a process of its own, steered over IPC. */
const LOCK_HOLDER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.pragma('busy_timeout = 30000');
process.on('message', (message) => {
  if (message === 'lock') { db.exec('BEGIN IMMEDIATE'); process.send('locked'); }
  else if (message === 'unlock') { if (db.inTransaction) db.exec('ROLLBACK'); process.send('unlocked'); }
});
process.on('disconnect', () => process.exit(0));
process.send('ready');
`;

/** Another process on the same SQLite file that takes and holds the write lock when told to. */
export class SqliteLockHolder {
  private constructor(private readonly child: ChildProcess) {}

  static async open(file: string): Promise<SqliteLockHolder> {
    const child = spawn(process.execPath, ['-e', LOCK_HOLDER, file], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const holder = new SqliteLockHolder(child);
    await holder.reply('ready');
    return holder;
  }

  /** Resolves once the other process holds the write lock (BEGIN IMMEDIATE, nothing written). */
  async lock(): Promise<void> {
    this.child.send('lock');
    await this.reply('locked');
  }

  async unlock(): Promise<void> {
    this.child.send('unlock');
    await this.reply('unlocked');
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }

  private reply(expected: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (message !== expected) return;
        this.child.off('exit', onExit);
        this.child.off('message', onMessage);
        resolve();
      };
      const onExit = (code: number | null) => reject(new Error(`lock holder exited (${code}) before "${expected}"`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }
}

/**
 * A tmpfs of its own, mounted for one test: a real disk that fills up (ENOSPC → SQLITE_FULL) and can be
 * remounted read-only. Needs root (CI runs as root); `TinyDisk.unavailableReason()` says why not.
 */
export class TinyDisk {
  private filler: string | undefined;

  private constructor(
    readonly dir: string,
    private readonly parent: string,
  ) {}

  static unavailableReason(): string | undefined {
    if (process.platform !== 'linux') return 'a tmpfs mount needs Linux';
    if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
    return undefined;
  }

  static mount(sizeMb: number): TinyDisk {
    const parent = mkdtempSync(join(tmpdir(), 'igconnect-disk-'));
    const dir = join(parent, 'mnt');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', dir]);
    return new TinyDisk(dir, parent);
  }

  /** Writes a filler file until the disk refuses another byte. Returns the bytes written. */
  fill(): number {
    this.filler = join(this.dir, 'filler.bin');
    const fd = openSync(this.filler, 'w');
    let written = 0;
    try {
      for (const size of [1 << 20, 1 << 16, 4096, 512, 1]) {
        const chunk = Buffer.alloc(size, 0x5a);
        for (;;) {
          try {
            written += writeSync(fd, chunk);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
            break;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return written;
  }

  /** Frees what fill() took. */
  free(): void {
    if (this.filler) unlinkSync(this.filler);
    this.filler = undefined;
  }

  readOnly(): void {
    execFileSync('mount', ['-o', 'remount,ro', this.dir]);
  }

  writable(): void {
    execFileSync('mount', ['-o', 'remount,rw', this.dir]);
  }

  unmount(): void {
    try {
      execFileSync('umount', ['-l', this.dir]);
    } finally {
      rmSync(this.parent, { recursive: true, force: true });
    }
  }
}
