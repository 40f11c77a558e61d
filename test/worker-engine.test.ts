import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EngineError, type LostLeadershipInfo } from '../src/index.ts';
import { engineWorkerOf } from '../src/node/election-node.ts';
import { workerExecArgv } from '../src/node/engine-host.ts';
import { nextEvent, startCluster } from './support/tcp-cluster.ts';

const FAST = { heartbeatIntervalMs: 20, leaseMs: 200 } as const;
const LIVENESS_MS = 10_000;
const CHILD = fileURLToPath(new URL('./support/lifecycle-child.ts', import.meta.url));

/** Runs the lifecycle child; resolves with its exit code and output, or rejects if it has not exited in time. */
function runChild(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process did not exit within ${timeoutMs} ms (hung): ${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the election worker thread', () => {
  it("inherits the process's flags except those about its entry point (node -e, --input-type)", () => {
    assert.deepEqual(
      workerExecArgv([
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        'code',
        '--max-old-space-size=64',
        '--eval',
        'x',
      ]),
      ['--import', 'tsx', '--max-old-space-size=64'],
    );
  });

  for (const how of ['exits', 'throws'] as const) {
    it(`when the worker ${how}, the leader emits lostLeadership ('failed') and error, stops leading at once, and a peer takes over`, async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        const node = cluster.node(1);
        const worker = engineWorkerOf(node);
        assert.ok(worker, 'node 1 runs on a worker');
        let leaderAtLoss: boolean | undefined;
        node.once('lostLeadership', () => {
          leaderAtLoss = node.isLeader;
        });
        const lost = nextEvent<[LostLeadershipInfo]>(node, 'lostLeadership', LIVENESS_MS);
        const error = nextEvent<[Error]>(node, 'error', LIVENESS_MS);
        const takeover = cluster.leaderGained(2, LIVENESS_MS);
        if (how === 'exits') void worker.terminate();
        else worker.postMessage({ type: 'crash', message: 'injected failure' });
        const [info] = await lost;
        assert.equal(info.reason, 'failed');
        assert.equal(leaderAtLoss, false);
        assert.ok((await error)[0] instanceof EngineError);
        assert.equal(node.isLeader, false);
        assert.equal(node.status().state, 'stopped');
        await takeover;
        assert.deepEqual(
          cluster.gains.filter((g) => g.overlapping.length > 0),
          [],
        );
        await node.stop();
      } finally {
        await cluster.stopAll();
      }
    });
  }

  it('a leader whose main thread is stalled stays leader in worker mode (the worker renews)', async () => {
    const cluster = await startCluster([1, 2, 3], FAST);
    try {
      await cluster.leaderGained(1, LIVENESS_MS);
      const node = cluster.node(1);
      const term = node.term;
      // Block this (the test's) main thread for five leases: every node's facade stalls, every worker runs.
      const until = performance.now() + 5 * FAST.leaseMs;
      while (performance.now() < until) {
        // busy
      }
      assert.equal(node.isLeader, true);
      assert.equal(node.term, term);
    } finally {
      await cluster.stopAll();
    }
  });

  for (const thread of ['worker', 'main'] as const) {
    for (const mode of ['stop', 'crash', 'start-stop'] as const) {
      if (thread === 'main' && mode === 'crash') continue;
      it(`the process exits by itself after ${mode} (thread: ${thread})`, async () => {
        const { code, output } = await runChild([mode, thread], 30_000);
        assert.equal(code, 0, output);
        assert.match(output, new RegExp(`done ${mode}`));
      });
    }
  }
});
