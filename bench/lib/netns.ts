/**
 * Network namespaces on a bridge, for benches that need real, separate network stacks (the keepalived baseline, the
 * partition bench): N node namespaces `<prefix>-1..N`, each with `eth0` at `<subnet>.<id>/24`, plugged into a
 * bridge that lives in a namespace of its own (`<prefix>-br`, the bridge itself at `<subnet>.254`). Every address
 * exists only inside these namespaces; nothing is added to the machine's own network.
 *
 * Partitions are nftables rules inside a node's namespace, dropping what `eth0` receives, sends, or both; one
 * address (a server the nodes must keep reaching, such as a fake cloud API on the bridge) can be exempted.
 *
 * Needs root and `ip netns` (iproute2); partitions need `nft` (Debian's nftables). Namespaces and rules are removed
 * by {@link NetnsBridge.remove}, and on exit or interruption of the bench if that was never reached.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { registerCleanup } from './proc.ts';

/** Run a command, return its stdout; throws with its stderr on failure. */
export function run(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(input === undefined ? {} : { input }),
  });
}

/** Run a command; whether it succeeded. */
export function tryRun(cmd: string, args: readonly string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** Why namespaces cannot be made here (not root, no `ip netns`), or undefined when they can. */
export function netnsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces need it)';
  if (!tryRun('ip', ['netns', 'list'])) return '`ip netns` is not available';
  return undefined;
}

/** Why partitions cannot be made here (no `nft`), or undefined when they can. */
export function nftMissing(): string | undefined {
  return existsSync('/usr/sbin/nft') || tryRun('nft', ['--version']) ? undefined : 'nft (nftables) is not installed';
}

/** Which traffic of a node's `eth0` a partition drops. */
export type PartitionMode = 'symmetric' | 'inbound' | 'outbound';

/** The nftables table that holds a partition's rules (one per namespace, removed whole on heal). */
const TABLE = 'lip_partition';

/** The addresses a bridge hands out; see the module comment. */
export interface NetnsBridgeOptions {
  /** Namespace name prefix, e.g. `lipb`; different benches use different ones so they never collide. */
  prefix: string;
  /** First three octets of the /24, e.g. `10.213.0`. */
  subnet: string;
  nodes: number;
}

/** N namespaces on a bridge; see the module comment. */
export class NetnsBridge {
  readonly prefix: string;
  readonly subnet: string;
  readonly nodes: number;
  #unregister: (() => void) | undefined;

  constructor(options: NetnsBridgeOptions) {
    this.prefix = options.prefix;
    this.subnet = options.subnet;
    this.nodes = options.nodes;
  }

  /** The namespace the bridge lives in. */
  get bridgeNs(): string {
    return `${this.prefix}-br`;
  }

  /** Node `id`'s namespace (ids from 1). */
  ns(id: number): string {
    return `${this.prefix}-${id}`;
  }

  /** Node `id`'s address. */
  address(id: number): string {
    return `${this.subnet}.${id}`;
  }

  /** The bridge's own address, inside the bridge namespace: where a server every node reaches listens. */
  get bridgeAddress(): string {
    return `${this.subnet}.254`;
  }

  /** `ip netns exec` prefix for a command run inside node `id`'s namespace (or the bridge's, with `'br'`). */
  exec(id: number | 'br'): string[] {
    return ['ip', 'netns', 'exec', id === 'br' ? this.bridgeNs : this.ns(id)];
  }

  /** Create everything, after removing what an earlier, killed run may have left. */
  create(): void {
    this.remove();
    this.#unregister = registerCleanup(() => this.remove());
    const br = this.bridgeNs;
    run('ip', ['netns', 'add', br]);
    run('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', br, 'addr', 'add', `${this.bridgeAddress}/24`, 'dev', 'br0']);
    run('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
    run('ip', ['-n', br, 'link', 'set', 'lo', 'up']);
    for (let id = 1; id <= this.nodes; id++) {
      const ns = this.ns(id);
      run('ip', ['netns', 'add', ns]);
      run('ip', ['-n', br, 'link', 'add', `v${id}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run('ip', ['-n', br, 'link', 'set', `v${id}`, 'master', 'br0', 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${this.address(id)}/24`, 'dev', 'eth0']);
      run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** Delete every namespace (their interfaces and firewall rules go with them). */
  remove(): void {
    for (let id = 1; id <= this.nodes; id++) tryRun('ip', ['netns', 'del', this.ns(id)]);
    tryRun('ip', ['netns', 'del', this.bridgeNs]);
    this.#unregister?.();
    this.#unregister = undefined;
  }

  /** Bytes sent so far on node `id`'s interface (Ethernet frames, headers included). */
  txBytes(id: number): number {
    return Number(run('ip', [...this.exec(id).slice(1), 'cat', '/sys/class/net/eth0/statistics/tx_bytes']));
  }

  /**
   * Cut node `id` off: drop what its `eth0` receives (`inbound`), sends (`outbound`) or both, except traffic with
   * `exempt` (an address every node keeps reaching, e.g. the fake cloud API). Returns once the rules are in place.
   */
  partition(id: number, mode: PartitionMode, exempt?: string): void {
    const keep = (dir: 'saddr' | 'daddr') => (exempt === undefined ? '' : ` ip ${dir} != ${exempt}`);
    const rules: string[] = [];
    if (mode !== 'outbound') {
      rules.push(
        `  chain input { type filter hook input priority 0; policy accept; iifname "eth0"${keep('saddr')} drop; }`,
      );
    }
    if (mode !== 'inbound') {
      rules.push(
        `  chain output { type filter hook output priority 0; policy accept; oifname "eth0"${keep('daddr')} drop; }`,
      );
    }
    run('ip', [...this.exec(id).slice(1), 'nft', '-f', '-'], `table inet ${TABLE} {\n${rules.join('\n')}\n}\n`);
  }

  /** Remove node `id`'s partition rules. */
  heal(id: number): void {
    run('ip', [...this.exec(id).slice(1), 'nft', 'delete', 'table', 'inet', TABLE]);
  }
}
