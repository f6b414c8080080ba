import { readFileSync } from 'node:fs';
import { round } from './child-process';

/** The parts of a V8 .heapsnapshot that a self-size summary needs. */
interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapEntry {
  name: string;
  count: number;
  mb: number;
}

/**
 * Live objects of a heap snapshot grouped by kind (object constructor, closure, array, string, compiled
 * code, …) and ranked by their own (shallow) size: what the heap holds at the moment it was taken.
 */
export function summariseHeapSnapshot(file: string, top = 20): { totalMb: number; nodes: number; top: HeapEntry[] } {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < heap.nodes.length; i += stride) {
    const type = types[heap.nodes[i + typeAt] ?? 0] ?? '?';
    const size = heap.nodes[i + sizeAt] ?? 0;
    // Strings and numbers are grouped by kind; objects, closures and natives by their name.
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number'
        ? `(${type})`
        : `${type}:${(heap.strings[heap.nodes[i + nameAt] ?? 0] ?? '').slice(0, 60)}`;
    const group = groups.get(name) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += size;
    groups.set(name, group);
    total += size;
  }
  return {
    totalMb: round(total / 1048576),
    nodes: heap.nodes.length / stride,
    top: [...groups]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, top)
      .map(([name, g]) => ({ name, count: g.count, mb: round(g.bytes / 1048576, 2) })),
  };
}
