/**
 * The contract of a `leader-ip run` flag group: its flags (help, defaults, validators) and the hooks through which
 * it takes part in a run. `run.ts` calls the hooks of every group in {@link RUN_GROUPS} order, in phases:
 * `validate` → `nodeOptions` (all before any network I/O) → `prepare` → `attach` → node start → `serve`; and on
 * a signal, the cleanups of `attach` (before the node stops) and of `serve` (after it stopped).
 * @module
 */
import type { FloatingIpBinding } from '../../assigners/bind-floating-ip.ts';
import type { LeadershipSource } from '../../leadership/leadership-source.ts';
import type { ElectionNodeOptions } from '../../node/election-node.ts';
import type { FlagGroup, FlagValues } from '../flag-table.ts';
import type { FloatingIpStatus } from '../http-status.ts';
import type { Reporter } from '../reporter.ts';

/** The node a run drives, whichever backend (`--backend tcp`: ElectionNode; `--backend etcd`: EtcdElection). */
export type RunNode = LeadershipSource & { setHealthy(healthy: boolean, reason?: string | undefined): void };

/** Undoes what a hook set up (unbind, close a server). */
export type Cleanup = () => Promise<void>;

/** What a run shares with its groups. Mutable fields are filled in by one group for the others. */
export interface RunContext {
  /** Every flag's validated value (config file merged, defaults applied). */
  readonly values: FlagValues;
  readonly env: NodeJS.ProcessEnv;
  /** Prints events; labelled `leader-ip` until the node's ID is known, then `node <id>`. */
  reporter: Reporter;
  /** Computes `make()` once per run under `key` (a token read from a file, a warning printed once). */
  memo<T>(key: string, make: () => T): T;
  /** This droplet's ID from the metadata service: asked once, on first call (network I/O: `prepare` and later). */
  dropletId(): Promise<number>;
  /** The node's ID, once known (given, or read in `prepare`). */
  id: number | undefined;
  /** Floating-IP bindings attached to the node (read by `--http` for /status and /metrics). */
  readonly bindings: { binding: FloatingIpBinding; status: () => FloatingIpStatus }[];
}

/** A group of `leader-ip run` flags and its part in the run. Every hook is optional. */
export interface RunGroup extends FlagGroup {
  /** Cross-flag checks; may read local files, never the network. Throw a UsageError naming the flag. */
  validate?(ctx: RunContext): void;
  /** The {@link ElectionNodeOptions} these flags set (undefined fields are dropped). No network. */
  nodeOptions?(ctx: RunContext): Partial<ElectionNodeOptions>;
  /** Network I/O needed before the node exists (asking the metadata service for an ID). */
  prepare?(ctx: RunContext): Promise<void>;
  /** Wires something onto the node before it starts; the cleanup runs before the node stops. */
  attach?(node: RunNode, ctx: RunContext): Promise<Cleanup | undefined>;
  /** Starts something once the node runs (an HTTP server); the cleanup runs after the node stopped. */
  serve?(node: RunNode, ctx: RunContext): Promise<Cleanup | undefined>;
}
