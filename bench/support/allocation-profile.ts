import { readFileSync } from 'node:fs';
import { round } from './child-process';
import { moduleOf } from './cpu-profile';

/** The parts of a V8 sampling heap profile (HeapProfiler.stopSampling) a summary needs. */
interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

export interface AllocationSummary {
  file: string;
  totalMb: number;
  /** Bytes allocated per unit of work (a refreshed token), when the count is given. */
  kbPerServed?: number;
  topModules: { name: string; percent: number; kbPerServed?: number }[];
  topFunctions: { name: string; percent: number; kbPerServed?: number }[];
}

/** Allocated bytes by module and by function (self), from a sampling heap profile. */
export function summariseAllocations(file: string, options: { served?: number; top?: number } = {}): AllocationSummary {
  const top = options.top ?? 14;
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: SamplingNode };
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const stack = [head];
  for (let node = stack.pop(); node; node = stack.pop()) {
    stack.push(...node.children);
    if (node.selfSize === 0) continue;
    total += node.selfSize;
    const { functionName, url, lineNumber } = node.callFrame;
    const module = moduleOf(url, functionName);
    byModule.set(module, (byModule.get(module) ?? 0) + node.selfSize);
    const fn = `${functionName || '(anonymous)'} ${module}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + node.selfSize);
  }
  const served = options.served;
  const rank = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => ({
        name,
        percent: round((100 * bytes) / Math.max(1, total)),
        ...(served ? { kbPerServed: round(bytes / 1024 / served, 2) } : {}),
      }));
  return {
    file,
    totalMb: round(total / 1048576, 1),
    ...(served ? { kbPerServed: round(total / 1024 / served, 2) } : {}),
    topModules: rank(byModule),
    topFunctions: rank(byFunction),
  };
}
