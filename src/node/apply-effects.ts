/**
 * The one function that carries out a core's {@link Effects}, used by the node's engine (main thread or worker)
 * and by the deterministic simulator, so the order simulated is the order that runs in production:
 *
 * 1. **persist**, and tell the core whether it worked (`persistDone`), repeating while the core asks for more:
 *    a vote whose record is not on stable storage is neither counted nor sent (the core holds it until then and
 *    undoes it on failure). Nothing below happens before the outcome is known.
 * 2. **publish** the core's view (leader, lease, term) to readers of `isLeader`: a leadership that ended is over
 *    for every reader before anything tells the world.
 * 3. **emit `lost`** events: the application stops acting as leader before the release (step 4) lets any
 *    successor be elected, so leadership handlers on two machines never overlap.
 * 4. **send** messages (releases, replies, heartbeats).
 * 5. **emit** the other events (`gained`, `leader`): a new leader's heartbeat is already on its way when the
 *    application starts acting on it.
 * 6. **arm** the wake-up timer.
 * @module
 */
import type { CoreEvent, Effects, Outgoing } from '../core/election-core.ts';
import type { PersistedState } from '../core/voter.ts';

/** What a core needs for effects to be applied: the persistence feedback input. */
export interface DurableCore {
  persistDone(ok: boolean, now: number): Effects;
}

/** Where effects go; each environment (engine, simulator) implements it. */
export interface EffectsSink {
  /** Writes `state` to stable storage, synchronously; returns false when it could not (the caller reports why). */
  persist(state: PersistedState): boolean;
  /** Makes the core's current leadership view visible to readers (a shared buffer, a field). */
  publish(now: number): void;
  emit(event: CoreEvent, now: number): void;
  send(messages: readonly Outgoing[]): void;
  arm(wakeAt: number): void;
}

/** Far above what one input can cause (a grant, then perhaps one pending grant): more is a bug in the core. */
const MAX_PERSIST_ROUNDS = 16;

/** Applies `effects`, which `core` returned for an input at `now`, in the order documented above. */
export function applyEffects(core: DurableCore, first: Effects, now: number, sink: EffectsSink): void {
  let persist = first.persist;
  let effects = first;
  const messages: Outgoing[] = [...first.messages];
  const events: CoreEvent[] = [...first.events];
  for (let round = 0; persist !== null; round++) {
    if (round >= MAX_PERSIST_ROUNDS) throw new Error('core kept asking to persist: applyEffects gave up');
    effects = core.persistDone(sink.persist(persist), now);
    messages.push(...effects.messages);
    events.push(...effects.events);
    persist = effects.persist;
  }
  sink.publish(now);
  for (const event of events) if (event.type === 'lost') sink.emit(event, now);
  sink.send(messages);
  for (const event of events) if (event.type !== 'lost') sink.emit(event, now);
  sink.arm(effects.wakeAt);
}
