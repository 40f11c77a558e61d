/**
 * Several floating IPs per cluster (an IPv4 and an IPv6, or two IPv4s): one independent binding per address, so
 * they move concurrently, each is reconciled on its own, and one failing address neither delays nor cancels the
 * others.
 * @module
 */

import { EventEmitter } from 'eventemitter3';
import { ConfigError, type LeaderIpError } from '../errors.ts';
import type { LeadershipSource } from '../leadership/leadership-source.ts';
import {
  type AssignedInfo,
  type AssignFailedInfo,
  type BindFloatingIpOptions,
  bindFloatingIp,
  type FloatingIpBinding,
  type ReconciledInfo,
} from './bind-floating-ip.ts';
import type { FloatingIpAssigner } from './floating-ip-assigner.ts';

/** Payload of `allAssigned`. */
export interface AllAssignedInfo {
  /** The leadership term every IP was assigned for. */
  term: number;
  /** The slowest address's time from its first attempt to its confirmation (they start together). */
  durationMs: number;
  /** Every address, in the order given. */
  addresses: string[];
}

/** Events of a {@link FloatingIpsBinding}: each per-address event names its address. */
export interface FloatingIpsBindingEvents {
  /** One address is confirmed here for `term`. */
  assigned: (info: AssignedInfo & { address: string }) => void;
  /** One attempt for one address failed; the other addresses are not affected. */
  assignFailed: (info: AssignFailedInfo & { address: string }) => void;
  /** One address's reconciliation read completed. */
  reconciled: (info: ReconciledInfo & { address: string }) => void;
  /** Every address is confirmed here for the same term. */
  allAssigned: (info: AllAssignedInfo) => void;
  /** Needs attention, for one address (a non-retryable failure, or a failed reconciliation read). */
  error: (error: LeaderIpError, address: string) => void;
}

/** Returned by {@link bindFloatingIps}. */
export interface FloatingIpsBinding {
  /** The binding's events (see its events interface). */
  readonly events: EventEmitter<FloatingIpsBindingEvents>;
  /** The binding of each address (its own events, without the address), in the order given. */
  readonly bindings: ReadonlyMap<string, FloatingIpBinding>;
  /** Unbinds every address; resolves once every in-flight call has settled. Unassigns nothing. */
  unbind(): Promise<void>;
}

/**
 * Binds several assigners to one node's leadership: each address gets its own {@link bindFloatingIp} (same options),
 * so on `gainedLeadership` all of them start at once, each retries and reconciles on its own schedule, and a slow
 * or failing address holds none of the others back. Events carry the `address`; `allAssigned` fires when every
 * address is confirmed for the same term.
 *
 * `assigners` is a list (each address is the assigner's `ip` property when it has one, else its index) or a
 * record from address (any label) to assigner.
 */
export function bindFloatingIps(
  node: LeadershipSource,
  assigners: readonly FloatingIpAssigner[] | Readonly<Record<string, FloatingIpAssigner>>,
  options: BindFloatingIpOptions = {},
): FloatingIpsBinding {
  const entries = addressed(assigners);
  const events = new EventEmitter<FloatingIpsBindingEvents>();
  const bindings = new Map<string, FloatingIpBinding>();
  // Per term: the addresses confirmed so far and the slowest duration.
  let progress: { term: number; done: Set<string>; durationMs: number } | undefined;
  try {
    for (const [address, assigner] of entries) {
      const binding = bindFloatingIp(node, assigner, options);
      bindings.set(address, binding);
      binding.events.on('assigned', (info) => {
        events.emit('assigned', { ...info, address });
        if (progress === undefined || progress.term !== info.term) {
          progress = { term: info.term, done: new Set(), durationMs: 0 };
        }
        progress.done.add(address);
        progress.durationMs = Math.max(progress.durationMs, info.durationMs);
        if (progress.done.size === entries.length) {
          events.emit('allAssigned', {
            term: info.term,
            durationMs: progress.durationMs,
            addresses: entries.map(([a]) => a),
          });
        }
      });
      binding.events.on('assignFailed', (info) => events.emit('assignFailed', { ...info, address }));
      binding.events.on('reconciled', (info) => {
        // A correction means this address must be confirmed again before "all" holds for the term.
        if (info.corrected) progress?.done.delete(address);
        events.emit('reconciled', { ...info, address });
      });
      binding.events.on('error', (error) => events.emit('error', error, address));
    }
  } catch (error) {
    for (const binding of bindings.values()) void binding.unbind();
    throw rename(error, bindings.size);
  }
  return {
    events,
    bindings,
    async unbind(): Promise<void> {
      await Promise.all([...bindings.values()].map((binding) => binding.unbind()));
    },
  };
}

function addressed(
  assigners: readonly FloatingIpAssigner[] | Readonly<Record<string, FloatingIpAssigner>>,
): Array<[string, FloatingIpAssigner]> {
  if (typeof assigners !== 'object' || assigners === null) {
    throw new ConfigError('assigners', 'expected a list of assigners or a record of them by address');
  }
  const entries: Array<[string, FloatingIpAssigner]> = Array.isArray(assigners)
    ? (assigners as readonly FloatingIpAssigner[]).map((assigner, i) => {
        const ip = (assigner as { ip?: unknown } | undefined)?.ip;
        return [typeof ip === 'string' && ip !== '' ? ip : String(i), assigner];
      })
    : Object.entries(assigners as Readonly<Record<string, FloatingIpAssigner>>);
  if (entries.length === 0) throw new ConfigError('assigners', 'expected at least one assigner');
  const seen = new Set<string>();
  const instances = new Set<FloatingIpAssigner>();
  entries.forEach(([address, assigner], i) => {
    if (seen.has(address)) throw new ConfigError(`assigners[${i}]`, `a second assigner for ${address}`);
    // Two bindings on one assigner would fence each other's terms and double every request.
    if (instances.has(assigner)) throw new ConfigError(`assigners[${i}]`, 'the same assigner twice');
    seen.add(address);
    instances.add(assigner);
  });
  return entries;
}

// bindFloatingIp names its own argument `assigner`; here it is one of several.
function rename(error: unknown, index: number): unknown {
  if (error instanceof ConfigError && error.field === 'assigner') {
    return new ConfigError(`assigners[${index}]`, error.message.replace(/^assigner: /, ''));
  }
  return error;
}
