/**
 * What running the election on a worker thread costs, against `thread: 'main'`: start-up time of `node.start()`,
 * resident memory, and idle CPU, per process of an idle 3-node cluster at the default timing (heartbeat 100 ms,
 * lease 1 s). Runs the built package (`npm run build` first): `node --import tsx bench/worker-cost.ts`.
 * Short on purpose (~25 s): 3 s to settle, a 6 s idle window per mode. Prints a Markdown table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../src/testing/process-cluster.ts';
import { delay } from './lib/proc.ts';
import { measureUsage } from './lib/procstat.ts';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const SETTLE_MS = 3000;
const WINDOW_MS = 6000;

// One cluster member from the built package: prints its start-up time, then idles until killed.
const CHILD = `
const { ElectionNode } = await import(process.env.DIST_URL);
const [id, ports, thread] = [Number(process.argv[1]), process.argv[2].split(',').map(Number), process.argv[3]];
const t0 = performance.now();
const node = new ElectionNode({
  id, listen: '127.0.0.1:' + ports[id - 1], thread,
  peers: ports.filter((_, i) => i !== id - 1).map((p) => '127.0.0.1:' + p),
});
await node.start();
console.log(JSON.stringify({ startMs: performance.now() - t0 }));
`;

interface Row {
  thread: string;
  startMs: number;
  rssMiB: number;
  cpuPercent: number;
}

async function measure(thread: 'worker' | 'main'): Promise<Row> {
  const ports = await freePorts(3);
  const children: ChildProcess[] = [];
  const starts: Promise<number>[] = [];
  for (const id of [1, 2, 3]) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, String(id), ports.join(','), thread], {
      env: { ...process.env, DIST_URL: new URL(`file://${DIST}`).href },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    starts.push(
      new Promise((resolve) =>
        createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).startMs)),
      ),
    );
  }
  try {
    const startMs = await Promise.all(starts);
    await delay(SETTLE_MS);
    const usage = await measureUsage(
      children.map((c) => c.pid!),
      WINDOW_MS,
    );
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      thread,
      startMs: mean(startMs),
      rssMiB: mean(usage.map((u) => u.rssMiB)),
      cpuPercent: mean(usage.map((u) => u.cpuPercent)),
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
}

if (!existsSync(DIST)) throw new Error('build first: npm run build');
const rows = [await measure('main'), await measure('worker')];
console.log('| thread | node.start() ms | RSS MiB / process | idle CPU % / process |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.thread} | ${r.startMs.toFixed(1)} | ${r.rssMiB.toFixed(1)} | ${r.cpuPercent.toFixed(2)} |`);
}
