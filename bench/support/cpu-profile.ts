import { readFileSync } from 'node:fs';
import { sep } from 'node:path';
import { round } from './child-process';

/** The parts of a V8 .cpuprofile that a self-time summary needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  percent: number;
  /**
   * CPU milliseconds per request or flow served while the profile ran (the share of the process's CPU time
   * from /proc): under load, sampled wall time also counts moments the process waited for a core.
   */
  msPerServed?: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  topModules: ProfileEntry[];
  topFunctions: ProfileEntry[];
  /** The groups issue 13 named (Kysely, template, logging, …), each over all its modules. */
  groups: ProfileEntry[];
}

/**
 * Groups of modules by the duty they serve. Natives (SQLite, sockets, crypto, Intl) have no script and
 * stay in "(native)"; a group is the JavaScript of that duty only.
 */
const GROUPS: [string, (module: string, fn: string) => boolean][] = [
  ['Kysely (query building)', (m) => m === 'kysely'],
  ['template (EJS and the compiled views)', (m) => m === 'ejs' || /\.ejs"?$/.test(m)],
  [
    'logging (pino, pino-http, redaction, scrubLine)',
    (m) =>
      /^(pino|pino-http|pino-std-serializers|fast-redact|@pinojs\/redact|sonic-boom|quick-format-unescaped|fast-safe-stringify|safe-stable-stringify|thread-stream|on-exit-leak-free)$/.test(
        m,
      ) || m === `src${sep}shared${sep}logger.js`,
  ],
  [
    'presenter and time formatting',
    (m) => m === `src${sep}connections${sep}connections.presenter.js` || m === `src${sep}shared${sep}time-text.js`,
  ],
  ['undici (fetch)', (m) => m === 'undici (fetch)' || m === 'undici'],
  ['node:crypto (hashing, signatures)', (m) => m.startsWith('node:crypto') || m === 'node:internal/crypto'],
  ['existsSync', (_m, fn) => fn === 'existsSync'],
  ['TLS (node:tls, node:_tls_*)', (m) => m.startsWith('node:_tls') || m === 'node:tls' || m === 'node:internal/tls'],
  ['(gc)', (m) => m === '(gc)'],
  ['(native)', (m) => m === '(native)'],
];

/** Where a function lives, coarsely: an npm package, an igconnect source file, or node's internals. */
export function moduleOf(url: string, functionName: string): string {
  if (url === '')
    return functionName === '(garbage collector)' ? '(gc)' : functionName.startsWith('(') ? functionName : '(native)';
  // fetch() is undici inside node; name it, it is the app's HTTP client.
  if (url.includes('deps/undici')) return 'undici (fetch)';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf(`node_modules${sep}`);
  if (nm !== -1) {
    const parts = path.slice(nm + 'node_modules/'.length).split(sep);
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? path);
  }
  const dist = path.lastIndexOf(`${sep}dist${sep}`);
  return dist !== -1 ? path.slice(dist + 6) : path;
}

/** Self time per module and per function, as a share of the busy samples (idle excluded). */
export function summariseProfile(
  file: string,
  options: { top?: number; served?: number; cpuMs?: number } = {},
): ProfileSummary {
  const top = options.top ?? 14;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfByModule = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const selfByGroup = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    // `dispatch` with no script is the inspector serialising the profile when it stops: not the app's work.
    if (!frame || frame.functionName === '(idle)' || (frame.functionName === 'dispatch' && frame.url === '')) return;
    busy += dt;
    const module = moduleOf(frame.url, frame.functionName);
    selfByModule.set(module, (selfByModule.get(module) ?? 0) + dt);
    for (const [group, test] of GROUPS) {
      if (test(module, frame.functionName)) selfByGroup.set(group, (selfByGroup.get(group) ?? 0) + dt);
    }
    const fn = `${frame.functionName || '(anonymous)'} ${module}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + dt);
  });
  const served = options.served;
  const cpuMs = options.cpuMs ?? busy / 1000;
  const rank = (map: Map<string, number>, count = top) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, us]) => ({
        name,
        percent: round((100 * us) / busy),
        ...(served ? { msPerServed: round(((us / busy) * cpuMs) / served, 4) } : {}),
      }));
  return {
    file,
    totalMs: round(busy / 1000),
    topModules: rank(selfByModule),
    topFunctions: rank(selfByFunction),
    groups: rank(selfByGroup, GROUPS.length),
  };
}
