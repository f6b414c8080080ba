import { readFileSync } from 'node:fs';

/**
 * Prints the Markdown tables of BENCHMARKS.md from a results file:
 * `node dist/bench/summary.js bench/results/bench-….json`.
 */
type Json = Record<string, unknown>;

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node dist/bench/summary.js <results.json>\n');
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, 'utf8')) as Json;
const lines: string[] = [];
const out = (line = '') => lines.push(line);
const obj = (value: unknown): Json => (value ?? {}) as Json;
const num = (value: unknown): string => (value === undefined || value === null ? '-' : String(value));

const machine = obj(results.machine);
out(`Run ${num(results.startedAt)} to ${num(results.finishedAt)}, commit ${num(results.commit)}`);
out(
  `Machine: ${num(machine.cpu)}, ${num(machine.cores)} cores, ${num(machine.memoryGb)} GiB, node ${num(machine.node)}, load average at start ${JSON.stringify(machine.loadAverageAtStart)}, at end ${JSON.stringify(results.loadAverageAtEnd)}`,
);
out();

for (const name of ['sqlite', 'postgres', 'sqlite-production', 'postgres-production']) {
  if (results[name] === undefined) continue;
  const target = obj(results[name]);
  out(
    `## ${name}${target.publicUrl ? ` (${num(target.mode)} mode: igconnect at ${num(target.publicUrl)}, Instagram at ${num(target.sandboxUrl)})` : ''}`,
  );
  if (target.skipped) {
    out(`skipped: ${num(target.skipped)}`);
    out();
    continue;
  }
  const status = obj(target.statusPage);
  if (status.igconnect) {
    const ig = obj(status.igconnect);
    const base = obj(status.baseline);
    out(
      `### Status page (${num(status.pageBytes)} bytes, ${num(status.connectionsOnPage)} connections, load of ${num(status.loadConnections ?? 16)} connections)`,
    );
    out('| | req/s | p50 ms | p99 ms | CPU ms/req |');
    out('| --- | ---: | ---: | ---: | ---: |');
    out(`| igconnect | ${num(ig.rps)} | ${num(ig.p50)} | ${num(ig.p99)} | ${num(ig.cpuMsPerRequest)} |`);
    out(`| baseline | ${num(base.rps)} | ${num(base.p50)} | ${num(base.p99)} | ${num(base.cpuMsPerRequest)} |`);
    out(`| ratio | ${num(status.throughputRatio)} | | ${num(status.p99Ratio)} | ${num(status.cpuPerRequestRatio)} |`);
    out(`Per repetition req/s: igconnect ${runs(ig)}, baseline ${runs(base)}`);
    if (ig.logLinesPerRequest !== undefined) {
      out(`igconnect logged ${num(ig.logLinesPerRequest)} lines, ${num(ig.logBytesPerRequest)} bytes per request`);
    }
    out();
  }
  const flow = obj(target.connectFlow);
  if (flow.full) {
    const variants: [string, Json][] = [['full flow', obj(flow.full)]];
    if (flow.fullShortKeepAlive)
      variants.push(['full flow, server hints a short keep-alive', obj(flow.fullShortKeepAlive)]);
    variants.push(['sandbox alone', obj(flow.sandboxAlone)]);
    out(`### Connect flow (${num(flow.concurrency)} in flight)`);
    out(
      '| | keep-alive hint s | flows/s | p50 ms | p99 ms | failures | CPU ms/flow: igconnect | sandbox | load generator | igconnect connections to Instagram per flow (resumed) |',
    );
    out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [label, run] of variants) {
      const cpu = obj(run.cpuMsPerFlow);
      const conn = obj(run.igconnectToSandbox);
      out(
        `| ${label} | ${num(run.sandboxKeepAliveHintSeconds)} | ${num(run.flowsPerSecond)} | ${num(run.p50Ms)} | ${num(run.p99Ms)} | ${num(run.failures)} | ${num(cpu.igconnect)} | ${num(cpu.sandbox)} | ${num(cpu.loadGenerator)} | ${label === 'sandbox alone' ? '-' : `${num(conn.connectionsPerFlow)} (${num(conn.resumedSessions)} of ${num(conn.connections)})`} |`,
      );
    }
    out(`CPU share of a flow: ${JSON.stringify(flow.cpuShareOfFlow)}`);
    out(`igconnect CPU-bound flows/s on two cores: ${num(flow.igconnectCpuBoundFlowsPerSecondOnTwoCores)}`);
    out();
  }
  const scale = obj(target.scale);
  if (scale.small) {
    const small = obj(scale.small);
    const large = obj(scale.large);
    out('### Scale (status page)');
    out('| stored connections | req/s | p50 ms | p99 ms | CPU ms/req |');
    out('| ---: | ---: | ---: | ---: | ---: |');
    for (const s of [small, large]) {
      const st = obj(s.status);
      out(`| ${num(s.connections)} | ${num(st.rps)} | ${num(st.p50)} | ${num(st.p99)} | ${num(st.cpuMsPerRequest)} |`);
    }
    out(`Query plans: ${JSON.stringify(scale.queryPlans)}`);
    out(
      `ratios large/small: p50 ${num(scale.p50Ratio)}, p99 ${num(scale.p99Ratio)}, req/s ${num(scale.rpsRatio)}, CPU/req ${num(scale.cpuPerRequestRatio)}; seeding ${num(large.seedSeconds)} s`,
    );
    out();
  }
  const keeper = obj(target.keeper);
  if (keeper.sweeps) {
    out(`### Keeper (${num(keeper.connections)} connections, ${num(keeper.dueEachSweep)} due per sweep)`);
    out('| process | concurrency | tokens/s | s | CPU ms/token | sandbox CPU ms/token | RSS before MB | peak RSS MB |');
    out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const s of keeper.sweeps as Json[]) {
      out(
        `| ${num(s.process)} | ${num(s.concurrency)} | ${num(s.tokensPerSecond)} | ${num(s.seconds)} | ${num(s.keeperCpuMsPerToken ?? s.webCpuMsPerToken)} | ${num(s.sandboxCpuMsPerToken)} | ${num(s.rssBeforeMb)} | ${num(s.peakRssMb)} |`,
      );
    }
    const idle = obj(keeper.statusIdle);
    const inWeb = (keeper.sweeps as Json[]).find((s) => s.statusDuringSweep);
    const during = obj(inWeb?.statusDuringSweep);
    const paced = obj(keeper.pacedStatusLoad);
    out(
      `Status page at ${num(paced.requestsPerSecond)} req/s (ceiling ${num(paced.ceilingRps)}): idle p50 ${num(idle.p50)} ms / p99 ${num(idle.p99)} ms; during the sweep p50 ${num(during.p50)} ms / p99 ${num(during.p99)} ms`,
    );
    out(`Targets: ${JSON.stringify(keeper.targets)}`);
    out();
  }
  const heap = obj(target.heap);
  if (heap.samples) {
    const sweep = obj(heap.sweep);
    const high = obj(heap.atHighestSample);
    const snapshots = obj(heap.snapshots);
    out(`### Heap: web process with the keeper inside (NODE_OPTIONS "${num(heap.nodeOptions)}")`);
    out(
      `Sweep of ${JSON.stringify(sweep.byOutcome)} in ${num(sweep.seconds)} s, ${num(sweep.webCpuMsPerToken)} ms CPU per token; peak RSS ${num(heap.peakRssMb)} MB. Highest sample: RSS ${num(high.rssMb)} MB (anonymous ${num(high.rssAnonMb)}, file-backed ${num(high.rssFileMb)}), V8 heap ${num(high.heapTotalMb)} MB of which ${num(high.heapUsedMb)} MB used, spaces ${JSON.stringify(high.spacesMb)}`,
    );
    out(
      `Live heap (snapshot): ${num(obj(snapshots.idle).totalMb)} MB idle, ${num(obj(snapshots.duringSweep).totalMb)} MB 3 s into a sweep. Grew: ${(
        (snapshots.grewDuringSweep as Json[] | undefined) ?? []
      )
        .slice(0, 6)
        .map((e) => `${num(e.name)} ${num(e.mb)} MB`)
        .join(', ')}`,
    );
    out();
  }
  const profiles = obj(target.profiles);
  for (const [kind, value] of Object.entries(profiles)) {
    const profile = obj(value);
    out(
      `### Profile: ${kind} (${num(profile.totalMs)} ms busy, ${num(profile.served)} served: ${num(profile.busyMsPerServed)} ms busy each, ${num(profile.cpuMsPerServed)} ms CPU with the profiler)`,
    );
    if (profile.groups) {
      out(
        `Groups (ms each): ${(profile.groups as Json[]).map((e) => `${num(e.name)} ${num(e.percent)}% (${num(e.msPerServed)})`).join(', ')}`,
      );
      out();
    }
    out(`Modules: ${(profile.topModules as Json[]).map((e) => `${num(e.name)} ${num(e.percent)}%`).join(', ')}`);
    out();
    out(`Functions: ${(profile.topFunctions as Json[]).map((e) => `${num(e.name)} ${num(e.percent)}%`).join(', ')}`);
    out();
  }
  out(
    `Peak RSS over the whole run: igconnect ${num(target.appPeakRssMb)} MB, sandbox ${num(target.sandboxPeakRssMb)} MB`,
  );
  out();
}
const startup = obj(results.startup);
if (startup.medianStartMs !== undefined) {
  out('## Start-up');
  out(
    `${num(startup.command)}: first start (migrations) ${num(startup.firstStartWithMigrationsMs)} ms, median ${num(startup.medianStartMs)} ms, idle RSS ${num(startup.medianIdleRssMb)} MB`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);

function runs(summary: Json): string {
  return ((summary.runs as Json[] | undefined) ?? []).map((r) => num(r.rps)).join(', ');
}
