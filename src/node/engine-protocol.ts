/**
 * The typed channel between the `ElectionNode` facade (main thread) and its engine (core + transport + timer +
 * applyEffects), which runs either on the main thread or in a worker. The same messages flow in both modes, so
 * both modes run the same code; only the carrier differs (a direct call, or `postMessage`).
 *
 * To add a command (main -> engine, e.g. `setHealthy`, `append`): add a field to {@link EngineCommands}; the
 * compiler then asks for its handler in the engine's table (`engine.ts`, `commands`). To add an event (engine ->
 * main, e.g. `commit`): add a field to {@link EngineEvents}; the compiler asks for its handler in the facade's table
 * (`election-node.ts`, `#events`). Payloads must be structured-cloneable (no functions, no class instances except
 * errors sent through {@link serializeError}).
 * @module
 */
import type { AppendRefusal } from '../core/broadcast.ts';
import type { CoreStatus } from '../core/election-core.ts';
import { ConfigError, LeaderIpError, StateError, TransportError, type TransportErrorReason } from '../errors.ts';
import type { TcpTransportStats } from '../transport/types.ts';
import type { Endpoint } from '../util/address.ts';
import type { LostLeadershipReason } from './events.ts';

/** Commands, main thread -> engine. */
export interface EngineCommands {
  /** Dial one more member (already validated by the facade). */
  addPeer: { endpoint: Endpoint };
  /** Step down if leading, release, tell peers, close every socket; answered by the `stopped` event. */
  stop: object;
  /** Broadcast `data` (leader only); answered by `appendAccepted` or `appendRefused` with the same `requestId`. */
  append: { requestId: number; data: Uint8Array };
  /** The application stored the delivered entry `(term, index)`. */
  confirm: { term: number; index: number };
  /** The health verdict changed (health check with fall/rise, combined with `setHealthy`). */
  setHealthy: { healthy: boolean };
  /** Test hook: the engine throws from its event loop, as a bug would (worker mode: the worker dies). */
  crash: { message: string };
}

/** Events, engine -> main thread, delivered in the order the engine produced them. */
export interface EngineEvents {
  /** Listening; the node is running. */
  started: { address: Endpoint };
  /** Start failed (state file, listen, security check); the engine is done. */
  startFailed: { error: SerializedError };
  /** `beganAt`: when the leadership began, on the host-wide monotonic clock. */
  gained: { term: number; beganAt: number };
  /** `endedAt`: when the leadership really ended, on the host-wide monotonic clock. */
  lost: { term: number; reason: LostLeadershipReason; endedAt: number };
  leader: { leaderId: number | null; term: number };
  /** A condition that needs the user's action (the state file cannot be written). */
  error: { error: SerializedError };
  /** Informational: a refused or broken connection (a stray peer's bad handshake, a bad frame). */
  warning: { error: SerializedError };
  /** The leader took entry `requestId` as `(term, index)`: it is in flight. */
  appendAccepted: { requestId: number; term: number; index: number };
  /** The engine refused entry `requestId`; nothing was sent. */
  appendRefused: { requestId: number; reason: AppendRefusal; message: string };
  /** Leadership ended before a majority confirmed `(term, index)`. */
  appendFailed: { term: number; index: number };
  /** A majority confirmed `(term, index)`. */
  committed: { term: number; index: number };
  /** An entry for the application (follower), to confirm once stored. */
  delivered: { term: number; index: number; data: Uint8Array; catchUp: boolean; leaderId: number };
  /** Stopped; every socket is closed. `status` is the final snapshot. */
  stopped: { status: EngineStatus };
}

/** The engine's part of `ElectionNode.status()`. */
export interface EngineStatus {
  /** Null before the engine started. */
  core: CoreStatus | null;
  badMessages: number;
  transport: TcpTransportStats | null;
}

/** One message of a table `M`: `{ type: 'name', ...payload }`. */
export type Envelope<M> = { [K in keyof M]: { type: K } & M[K] }[keyof M];

/** A handler per message of `M`: a missing one is a compile error. */
export type Handlers<M> = { [K in keyof M]: (message: M[K]) => void };

/** Calls the handler of `envelope.type`. */
export function dispatch<M>(handlers: Handlers<M>, envelope: Envelope<M>): void {
  const type = (envelope as { type: keyof M }).type;
  (handlers[type] as (message: Envelope<M>) => void)(envelope);
}

/** An error as it crosses threads (structured clone keeps only `Error`'s own fields, not the class). */
export interface SerializedError {
  kind: 'config' | 'state' | 'transport' | 'leader-ip' | 'other';
  message: string;
  code?: string | undefined;
  field?: string | undefined;
  reason?: TransportErrorReason | undefined;
  remote?: string | undefined;
  peerId?: number | undefined;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof ConfigError) return { kind: 'config', message: error.message, field: error.field };
  if (error instanceof StateError) return { kind: 'state', message: error.message };
  if (error instanceof TransportError) {
    return {
      kind: 'transport',
      message: error.message,
      reason: error.reason,
      remote: error.remote,
      peerId: error.peerId,
    };
  }
  if (error instanceof LeaderIpError) return { kind: 'leader-ip', message: error.message, code: error.code };
  return { kind: 'other', message: error instanceof Error ? error.message : String(error) };
}

/** Rebuilds the typed error on the main thread, so `instanceof` and `.reason` work as in single-thread mode. */
export function deserializeError(error: SerializedError): LeaderIpError {
  switch (error.kind) {
    case 'config': {
      // ConfigError prefixes the field to the message; strip it so it is not doubled.
      const field = error.field ?? 'options';
      const prefix = `${field}: `;
      return new ConfigError(
        field,
        error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message,
      );
    }
    case 'state':
      return new StateError(error.message);
    case 'transport':
      return new TransportError(error.reason ?? 'refused', error.message, {
        remote: error.remote,
        peerId: error.peerId,
      });
    case 'leader-ip':
      return new LeaderIpError(error.code ?? 'ERR_ENGINE', error.message);
    case 'other':
      return new LeaderIpError('ERR_ENGINE', error.message);
  }
}
