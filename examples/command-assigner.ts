/**
 * A floating-IP assigner for any provider, through commands you supply: like keepalived's notify scripts, but
 * fenced and confirmed. `assign` runs your command with the IP, this machine's ID and the election term in its
 * environment; `holder` runs another to read who has the IP. Any provider with a CLI or an HTTP API fits.
 *
 *   node --import tsx examples/command-assigner.ts
 *
 * runs a one-node cluster whose "provider" is a file in a temporary directory, to show the whole cycle.
 *
 * The command contract:
 * - `assign` must move the IP to this machine and exit 0 only once the provider has done it. Any other exit is
 *   a retryable failure: `bindFloatingIp` backs off and retries while this node leads. Its environment has
 *   `LEADER_IP_ADDRESS`, `LEADER_IP_SELF` and `LEADER_IP_TERM` (the fencing term, strictly increasing).
 * - `holder` (optional) prints the current holder's ID on stdout, as `self` names machines; empty output means
 *   unassigned. Without it, reconciliation cannot notice the IP being moved behind the cluster's back.
 *
 * For instance, with a provider CLI that can assign and describe floating IPs (check your provider's docs for the
 * exact subcommands and output formats):
 *
 *   assign: 'provider-cli floating-ip assign "$LEADER_IP_ADDRESS" "$LEADER_IP_SELF"'
 *   holder: 'provider-cli floating-ip describe "$LEADER_IP_ADDRESS" --output server'
 *
 * This suits providers whose assign *moves* the IP. An address that must also be removed from the old holder
 * (an `ip addr add` on a shared L2 network, as keepalived does) also needs a `lostLeadership` handler to drop it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
// In your project: from 'leader-ip'.
import {
  AbortError,
  AssignerError,
  type AssignOptions,
  bindFloatingIp,
  ElectionNode,
  type FloatingIpAssigner,
  type HolderId,
  type HolderOptions,
  TermFence,
} from '../src/index.ts';

export interface CommandAssignerOptions {
  /** The floating IP; commands see it as `LEADER_IP_ADDRESS`. */
  ip: string;
  /** This machine's ID, as the `holder` command prints it; commands see it as `LEADER_IP_SELF`. */
  self: string;
  /** Shell command that moves the IP here and exits 0 once done. */
  assign: string;
  /** Shell command printing the holder's ID (empty: unassigned). Optional, but needed for reconciliation. */
  holder?: string | undefined;
  /** Kill a command still running after this long; a retryable failure. Default 30000 ms. */
  timeoutMs?: number | undefined;
  /** Extra environment for the commands (merged over this process's). */
  env?: Record<string, string> | undefined;
}

export class CommandAssigner implements FloatingIpAssigner {
  readonly #options: CommandAssignerOptions;
  readonly #fence = new TermFence();
  /** What this instance last set, for `holder()` when there is no command to ask. */
  #lastAssigned: string | null = null;

  constructor(options: CommandAssignerOptions) {
    this.#options = options;
  }

  async assign({ signal, term, stillLeader }: AssignOptions = {}): Promise<void> {
    // Refuses a term older than one already seen: only a deposed leader's late call can carry one.
    this.#fence.admit(term);
    if (this.#options.holder !== undefined && (await this.holder({ signal })) === this.#options.self) return;
    // A newer term may have been admitted while the holder was read: then this call must not act.
    this.#fence.check(term);
    // The lease is checked at the moment of acting: this process may have been paused past it.
    if (stillLeader?.() === false) throw new AbortError('leadership ended: the command is not run');
    await this.#run('assign', this.#options.assign, term, signal);
    this.#lastAssigned = this.#options.self;
    if (this.#options.holder === undefined) return;
    const now = await this.holder({ signal });
    if (now !== this.#options.self) {
      throw new AssignerError('ERR_COMMAND_NOT_CONFIRMED', `assign exited 0 but the holder is ${now ?? 'nobody'}`, {
        retryable: true,
      });
    }
  }

  async holder({ signal }: HolderOptions = {}): Promise<HolderId | null> {
    if (this.#options.holder === undefined) return this.#lastAssigned;
    const out = (await this.#run('holder', this.#options.holder, undefined, signal)).trim();
    return out === '' ? null : out;
  }

  async self(): Promise<HolderId> {
    return this.#options.self;
  }

  #run(name: string, command: string, term: number | undefined, signal: AbortSignal | undefined): Promise<string> {
    const env = {
      ...process.env,
      ...this.#options.env,
      LEADER_IP_ADDRESS: this.#options.ip,
      LEADER_IP_SELF: this.#options.self,
      LEADER_IP_TERM: term === undefined ? '' : String(term),
    };
    const timeout = this.#options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      // execFile kills the command when `signal` fires (leadership lost) or the timeout passes.
      execFile('/bin/sh', ['-c', command], { env, signal, timeout, maxBuffer: 64 * 1024 }, (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        if (signal?.aborted) return reject(new AbortError(`${name} command aborted`, { cause: error }));
        const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const detail = failure.killed
          ? `killed after ${timeout} ms`
          : `exit code ${failure.code}${lastLine(stderr) ? `: ${lastLine(stderr)}` : ''}`;
        reject(
          new AssignerError(
            failure.killed ? 'ERR_COMMAND_TIMEOUT' : 'ERR_COMMAND_FAILED',
            `${name} command ${detail}`,
            {
              retryable: true,
              cause: error,
            },
          ),
        );
      });
    });
  }
}

function lastLine(text: string): string {
  return (text.trim().split('\n').at(-1) ?? '').slice(0, 200);
}

// ---------------------------------------------------------------------------------------------------------------
// Run directly: a one-node cluster whose "provider" is a file.

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'leader-ip-command-'));
  const assigner = new CommandAssigner({
    ip: '192.0.2.10',
    self: 'web-1',
    assign: 'printf "%s" "$LEADER_IP_SELF" > "$PROVIDER_STATE"',
    holder: 'cat "$PROVIDER_STATE" 2>/dev/null || true',
    env: { PROVIDER_STATE: join(dir, 'holder') },
  });
  console.log(`holder before: ${(await assigner.holder()) ?? 'nobody'}`);
  const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', leaseMs: 300, heartbeatIntervalMs: 30 });
  const binding = bindFloatingIp(node, assigner);
  const assigned = new Promise<number>((resolve) => binding.events.once('assigned', ({ term }) => resolve(term)));
  binding.events.on('assignFailed', ({ error }) => console.log(`assign failed: ${error.message}`));
  await node.start();
  const term = await assigned;
  console.log(`assigned for term ${term}; holder now: ${await assigner.holder()}`);
  await binding.unbind();
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
