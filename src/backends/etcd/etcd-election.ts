import type {
  Etcd3,
  IDuplexStream,
  IKeyValue,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  IRangeResponse,
  ITxnResponse,
  Watcher,
} from 'etcd3';
import { EventEmitter } from 'eventemitter3';
import { AbortError, StateError } from '../../errors.ts';
import { HealthMonitor, type HealthStatus } from '../../health/health-monitor.ts';
import type { LeadershipEvents, LeadershipSource, LeadershipStatus } from '../../leadership/leadership-source.ts';
import type { LostLeadershipReason } from '../../node/events.ts';
import { logger } from '../../util/log.ts';
import { monotonicMs } from '../../util/monotonic.ts';
import { EtcdBackendError, type EtcdOperation, toEtcdError } from './errors.ts';
import { type EtcdElectionOptions, type ResolvedEtcdOptions, resolveEtcdOptions } from './options.ts';

const log = logger('etcd');

/** A JSON-serialisable snapshot returned by {@link EtcdElection.status}. */
export interface EtcdElectionStatus extends LeadershipStatus {
  /** Always `etcd`: tells this status from an `ElectionNode` one. */
  backend: 'etcd';
  /** The election's key in etcd (`keyPrefix + name`). */
  key: string;
  /** How much longer this leader may believe it leads without another confirmed keep-alive, ms (0 unless leader). */
  leaseRemainingMs: number;
  /** The etcd lease this node campaigns with (decimal ID), or null while it has none. */
  leaseId: string | null;
  /** The lease TTL etcd granted, ms (may exceed `leaseMs`: etcd enforces its own minimum). */
  grantedTtlMs: number | null;
  /** Never campaigns (`voterOnly`). */
  voterOnly: boolean;
  /** Health gating (see `health` option); `healthy` is true without a check unless set by `setHealthy`. */
  health: HealthStatus;
  /** Leadership changes of this node since start: gained plus lost. */
  transitions: number;
  /** etcd requests that failed since start (each also logged under `leader-ip:etcd`). */
  failedRequests: number;
  /** Keep-alives etcd confirmed since start (all leases). */
  keepAlives: number;
}

/** One lease this node campaigns with, and what is known of its validity. */
interface Lease {
  readonly id: string;
  readonly ttlMs: number;
  /**
   * Monotonic instant until which the lease is certainly alive in etcd: the send time of the last confirmed
   * keep-alive (or grant) plus the TTL, shortened by the drift bound. etcd starts the TTL when the request
   * arrives, which is after it was sent, so etcd cannot expire the lease (and elect another) before this.
   */
  validUntil: number;
  /** Send times of keep-alives in flight on `stream`, oldest first (etcd answers a stream in order). */
  pending: number[];
  stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse> | undefined;
  opening: boolean;
  dropped: boolean;
}

interface Leadership {
  readonly term: number;
  readonly lease: Lease;
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Leader election through etcd, behind the same {@link LeadershipSource} contract as `ElectionNode`: same events,
 * the term as fencing token, health gating, `bindFloatingIp`. For fleets too large for the built-in full mesh, or
 * shops that already run etcd and want one place of truth.
 *
 * How it elects: each candidate holds an etcd lease and, while the election's key is absent, creates it in a
 * transaction (`create_revision == 0`) bound to that lease; the one whose transaction succeeds leads, and the key's
 * create revision is its term (issued by etcd, so strictly increasing across leaderships and client restarts).
 * Everyone else watches the key and campaigns again the moment it is deleted: by `stop()` (a resign: one round
 * trip), by a leader turning unhealthy, or by etcd when the leader's lease expires. Order is first come; see
 * docs/protocol.md §13 for why and for the safety argument.
 *
 * Safe `isLeader`: the leader counts its leadership from the *send time* of its last confirmed keep-alive, for the
 * granted TTL minus the drift bound, and judges it at the moment of reading. A leader that is partitioned from etcd
 * or paused (SIGSTOP, GC, VM migration) therefore stops believing it leads before etcd can expire its lease and
 * let another node in.
 *
 * `etcd3` is an optional peer dependency: install it to use this backend (`npm install etcd3`).
 *
 * @example
 * ```ts
 * import { EtcdElection } from 'leader-ip/etcd';
 * const election = new EtcdElection({ id: 3, endpoints: ['http://10.0.0.5:2379'], name: 'web' });
 * election.on('gainedLeadership', ({ term, signal }) => startLeaderWork(term, signal));
 * await election.start();
 * ```
 */
export class EtcdElection extends EventEmitter<LeadershipEvents> implements LeadershipSource {
  readonly #o: ResolvedEtcdOptions;
  readonly #health: HealthMonitor;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #client: Etcd3 | undefined;
  #watcher: Watcher | undefined;
  #lease: Lease | undefined;
  #granting: Promise<Lease> | undefined;
  #leading: Leadership | null = null;
  #campaigning = false;
  /** The leader as seen in etcd and its term (the key's create revision). */
  #seenLeader: number | null = null;
  #seenTerm = 0;
  /** Highest etcd revision whose view of the key has been applied: older answers arriving late are ignored. */
  #seenRevision = 0;
  #reported: { leaderId: number | null; term: number } = { leaderId: null, term: 0 };
  #term = 0;
  #transitions = 0;
  #failedRequests = 0;
  #keepAlives = 0;
  /** Operations whose last attempt failed: a `warning` is emitted on the first failure of a streak only. */
  readonly #failing = new Set<EtcdOperation>();
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #stopRequested = false;
  #stopped: Promise<void> | undefined;

  /** Validates `options` at once: throws a `ConfigError` naming the first invalid field by its full path. */
  constructor(options: EtcdElectionOptions) {
    super();
    this.#o = resolveEtcdOptions(options);
    this.#health = new HealthMonitor(this.#o.health);
  }

  /** This node's ID. */
  get id(): number {
    return this.#o.id;
  }

  /**
   * Whether this node leads right now, judged at the moment of reading against the send time of its last confirmed
   * keep-alive (monotonic clock). Turns false by itself when keep-alives stop being confirmed, before etcd could
   * expire the lease, and even before `lostLeadership` is delivered.
   */
  get isLeader(): boolean {
    const leading = this.#leading;
    return leading !== null && !leading.lease.dropped && monotonicMs() < leading.lease.validUntil;
  }

  /** The leader as last seen in etcd (possibly this node), or null while the key is absent. */
  get leaderId(): number | null {
    if (this.isLeader) return this.#o.id;
    if (this.#state !== 'running') return null;
    return this.#seenLeader === this.#o.id ? null : this.#seenLeader;
  }

  /** Fencing term of the current (or last known) leadership: the leader key's create revision; 0 before any. */
  get term(): number {
    return this.#term;
  }

  /** Whether the node is fit to lead (health check and `setHealthy` combined). */
  get healthy(): boolean {
    return this.#health.healthy;
  }

  /**
   * The push-style health switch, combined with the `health.check` verdict: `setHealthy(false, 'draining')` makes
   * a leader resign at once (`lostLeadership` reason `'unhealthy'`) and keeps this node from campaigning.
   */
  setHealthy(healthy: boolean, reason?: string | undefined): void {
    this.#health.setHealthy(healthy, reason);
  }

  /** A plain, JSON-serialisable snapshot (no secrets). */
  status(): EtcdElectionStatus {
    const state =
      this.#state === 'new' || this.#state === 'starting' ? 'new' : this.#state === 'running' ? 'running' : 'stopped';
    const isLeader = this.isLeader;
    const lease = this.#lease;
    return {
      id: this.#o.id,
      state,
      isLeader,
      leaderId: this.leaderId,
      term: this.#term,
      backend: 'etcd',
      key: this.#o.key,
      leaseRemainingMs: isLeader ? Math.max(0, (this.#leading?.lease.validUntil ?? 0) - monotonicMs()) : 0,
      leaseId: lease?.id ?? null,
      grantedTtlMs: lease?.ttlMs ?? null,
      voterOnly: this.#o.voterOnly,
      health: this.#health.status(),
      transitions: this.#transitions,
      failedRequests: this.#failedRequests,
      keepAlives: this.#keepAlives,
    };
  }

  /**
   * Connects to etcd, reads the election's key and starts watching it; then campaigns (unless `voterOnly` or
   * unhealthy). Resolves once the key has been read. Rejects with an `EtcdBackendError` when etcd cannot be reached
   * within `requestTimeoutMs`, or when the optional `etcd3` package is not installed; with an `AbortError` when
   * {@link stop} is called first.
   */
  start(): Promise<void> {
    if (this.#state !== 'new')
      return Promise.reject(new StateError(`start() called on an election that is ${this.#state}`));
    this.#state = 'starting';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    try {
      const { Etcd3 } = await loadEtcd3();
      const o = this.#o;
      this.#client = new Etcd3({
        hosts: o.endpoints,
        dialTimeout: o.requestTimeoutMs,
        ...(o.tls === undefined
          ? {}
          : {
              credentials: {
                rootCertificate: o.tls.ca ?? Buffer.alloc(0),
                ...(o.tls.key === undefined ? {} : { privateKey: o.tls.key, certChain: o.tls.cert }),
              },
            }),
        ...(o.auth === undefined ? {} : { auth: { username: o.auth.username, password: o.auth.password } }),
      });
      const res = await this.#request('read', () => this.#client!.get(o.key).options(this.#deadline()).exec());
      this.#applyRange(res);
      this.#watch(Number(res.header.revision) + 1);
    } catch (error) {
      this.#state = 'stopped';
      this.#client?.close();
      throw error;
    }
    if (this.#stopRequested) {
      await this.#halt();
      this.#state = 'stopped';
      throw new AbortError('stop() was called before start() completed');
    }
    this.#state = 'running';
    this.#health.on('change', ({ healthy, reason }) => this.#onHealth(healthy, reason));
    this.#health.start();
    this.#keepAliveTimer = setInterval(() => this.#keepAlive(), this.#o.keepAliveIntervalMs);
    this.#resyncTimer = setInterval(() => void this.#resync(), this.#o.leaseMs);
    log('node %d: following %s', this.#o.id, this.#o.key);
    this.#maybeCampaign();
  }

  /**
   * Leaves the election. A leader resigns at once: `isLeader` turns false and `lostLeadership` (`'stopped'`) is
   * emitted before the lease is revoked, which deletes the key and wakes every watcher, so the next node takes
   * over within a round trip. Resolves once the lease is revoked (or the attempt timed out) and the client closed.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    if (this.#state === 'starting') {
      this.#stopRequested = true;
      await this.#starting?.catch(() => {});
    }
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    await this.#halt();
    this.#state = 'stopped';
    log('node %d stopped', this.#o.id);
  }

  async #halt(): Promise<void> {
    clearInterval(this.#keepAliveTimer);
    clearInterval(this.#resyncTimer);
    this.#health.stop();
    this.#lose('stopped', monotonicMs());
    const lease = this.#lease;
    if (lease !== undefined) await this.#dropLease(lease);
    // Bounded: a watch stream stuck behind a dead connection must not keep stop() from resolving.
    const cancelled = this.#watcher?.cancel().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      cancelled,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#o.requestTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.#watcher = undefined;
    this.#client?.close();
  }

  #onHealth(healthy: boolean, reason: string): void {
    log('node %d: %s (%s)', this.#o.id, healthy ? 'healthy' : 'unhealthy', reason);
    this.#emitSafely('healthChange', { healthy, reason });
    if (healthy) {
      this.#maybeCampaign();
      return;
    }
    const leading = this.#leading;
    if (leading === null) return;
    // Resign: stop believing first, then delete the key through the lease so a healthy node takes over at once.
    this.#lose('unhealthy', monotonicMs());
    void this.#dropLease(leading.lease);
  }

  #canCampaign(): boolean {
    return this.#state === 'running' && !this.#o.voterOnly && this.#health.healthy && this.#leading === null;
  }

  /** Campaigns if this node may and the key looks vacant. */
  #maybeCampaign(): void {
    if (!this.#canCampaign() || this.#seenLeader !== null || this.#campaigning) return;
    this.#campaigning = true;
    this.#campaign()
      .catch((error: unknown) => this.#failed('campaign', error))
      .finally(() => {
        this.#campaigning = false;
      });
  }

  async #campaign(): Promise<void> {
    const lease = await this.#currentLease();
    if (!this.#canCampaign() || lease.dropped) return;
    const client = this.#client!;
    const key = this.#o.key;
    const res: ITxnResponse = await this.#request('campaign', () =>
      client
        .if(key, 'Create', '==', 0)
        .then(client.put(key).value(String(this.#o.id)).lease(lease.id))
        .else(client.get(key))
        .options(this.#deadline())
        .commit(),
    );
    const revision = Number(res.header.revision);
    if (!res.succeeded) {
      this.#apply(res.responses[0]?.response_range?.kvs[0] ?? null, revision);
      return;
    }
    // Our key exists at `revision` and lives as long as `lease`. We lead only if nothing changed meanwhile.
    if (!this.#canCampaign() || lease.dropped || lease !== this.#lease || monotonicMs() >= lease.validUntil) {
      log('node %d: won term %d too late to use it; resigning', this.#o.id, revision);
      await this.#dropLease(lease);
      return;
    }
    this.#gain(revision, lease);
  }

  #gain(term: number, lease: Lease): void {
    const controller = new AbortController();
    const leading: Leadership = { term, lease, controller, timer: undefined };
    this.#leading = leading;
    this.#term = Math.max(this.#term, term);
    this.#seenLeader = this.#o.id;
    this.#seenTerm = term;
    this.#seenRevision = Math.max(this.#seenRevision, term);
    this.#transitions++;
    this.#armExpiry();
    log('node %d: leader, term %d', this.#o.id, term);
    // Emitted in the same turn as the gain itself.
    this.#emitSafely('gainedLeadership', { term, signal: controller.signal, beganMsAgo: 0 });
    this.#reportLeader();
  }

  /** Ends the current leadership (if any) at monotonic instant `endedAt`: events, signal, timer. */
  #lose(reason: LostLeadershipReason, endedAt: number): void {
    const leading = this.#leading;
    if (leading === null) return;
    this.#leading = null;
    // Belief never outlasts the lease's validity: a paused process that resumes and first hears of a successor
    // (a watch event) still ended its leadership when the validity ran out, and says so.
    const validUntil = leading.lease.validUntil;
    if (validUntil <= endedAt) {
      endedAt = validUntil;
      if (reason === 'revoked') reason = 'lease-expired';
    }
    clearTimeout(leading.timer);
    this.#transitions++;
    if (this.#seenLeader === this.#o.id) this.#seenLeader = null;
    log('node %d: lost term %d (%s)', this.#o.id, leading.term, reason);
    leading.controller.abort(new AbortError(`leadership ended: ${reason}`));
    this.#emitSafely('lostLeadership', {
      term: leading.term,
      reason,
      endedMsAgo: Math.max(0, monotonicMs() - endedAt),
    });
    this.#reportLeader();
  }

  /** (Re)arms the timer that turns an unconfirmed leadership into `lostLeadership` when its validity ends. */
  #armExpiry(): void {
    const leading = this.#leading;
    if (leading === null) return;
    clearTimeout(leading.timer);
    const wait = Math.max(0, leading.lease.validUntil - monotonicMs());
    leading.timer = setTimeout(() => {
      if (this.#leading !== leading) return;
      const validUntil = leading.lease.validUntil;
      if (monotonicMs() < validUntil) {
        this.#armExpiry();
        return;
      }
      // Keep-alives went unconfirmed for a whole TTL (cut off from etcd, or this process was paused). The lease may
      // still exist, but this leadership cannot be trusted: resign it and start over with a new lease and term.
      this.#lose('lease-expired', validUntil);
      void this.#dropLease(leading.lease).then(() => this.#maybeCampaign());
    }, wait + 1);
  }

  // --- lease ---------------------------------------------------------------------------------------------------

  /** The lease to campaign with: the current one while it is valid, else a freshly granted one. */
  async #currentLease(): Promise<Lease> {
    const lease = this.#lease;
    // A lease about to lapse would make a short leadership: take a new one instead.
    if (lease !== undefined && !lease.dropped && monotonicMs() < lease.validUntil - this.#o.keepAliveIntervalMs) {
      return lease;
    }
    if (lease !== undefined) void this.#dropLease(lease);
    this.#granting ??= this.#grant().finally(() => {
      this.#granting = undefined;
    });
    return this.#granting;
  }

  async #grant(): Promise<Lease> {
    const client = this.#client!;
    const sentAt = monotonicMs();
    const res = await this.#request('grant', () =>
      client.leaseClient.leaseGrant({ TTL: this.#o.leaseMs / 1000 }, this.#deadline()),
    );
    const ttlMs = Number(res.TTL) * 1000;
    const lease: Lease = {
      id: String(res.ID),
      ttlMs,
      validUntil: sentAt + this.#safeMs(ttlMs),
      pending: [],
      stream: undefined,
      opening: false,
      dropped: false,
    };
    if (this.#state !== 'running' && this.#state !== 'starting') {
      await this.#revoke(lease);
      lease.dropped = true;
      return lease;
    }
    this.#lease = lease;
    log('node %d: lease %s granted, TTL %d ms', this.#o.id, lease.id, ttlMs);
    // Keep-alives start now, not a period later: the stream is ready before the campaign could win.
    this.#openStream(lease);
    return lease;
  }

  /** Sends one keep-alive for the current lease (opening its stream first if needed). */
  #keepAlive(): void {
    const lease = this.#lease;
    if (lease === undefined || lease.dropped) return;
    if (monotonicMs() >= lease.validUntil) {
      // Lapsed while not leading (a leader's lapse is handled by its expiry timer): a new one is granted on demand.
      if (this.#leading?.lease !== lease) void this.#dropLease(lease);
      return;
    }
    if (lease.stream === undefined) {
      this.#openStream(lease);
      return;
    }
    lease.pending.push(monotonicMs());
    lease.stream.write({ ID: lease.id });
  }

  #openStream(lease: Lease): void {
    if (lease.opening) return;
    lease.opening = true;
    this.#client!.leaseClient.leaseKeepAlive().then(
      (stream) => {
        lease.opening = false;
        if (lease.dropped) {
          stream.end();
          return;
        }
        lease.stream = stream;
        const closed = (): void => {
          if (lease.stream !== stream) return;
          lease.stream = undefined;
          lease.pending = [];
        };
        stream.on('data', (res) => this.#onKeepAlive(lease, stream, Number(res.TTL)));
        stream.on('error', (error: unknown) => {
          closed();
          this.#failed('keepalive', error);
        });
        stream.on('end', closed);
        // Send the first keep-alive on the new stream at once.
        lease.pending.push(monotonicMs());
        stream.write({ ID: lease.id });
      },
      (error: unknown) => {
        lease.opening = false;
        this.#failed('keepalive', error);
      },
    );
  }

  #onKeepAlive(lease: Lease, stream: unknown, ttlSeconds: number): void {
    if (lease.stream !== stream || lease.dropped) return;
    const sentAt = lease.pending.shift();
    if (sentAt === undefined) return;
    if (!(ttlSeconds > 0)) {
      // etcd no longer knows the lease (expired or revoked by someone else): whatever it held is gone.
      log('node %d: lease %s is gone', this.#o.id, lease.id);
      if (this.#leading?.lease === lease) this.#lose('revoked', monotonicMs());
      void this.#dropLease(lease).then(() => this.#maybeCampaign());
      return;
    }
    this.#failing.delete('keepalive');
    this.#keepAlives++;
    const until = sentAt + this.#safeMs(ttlSeconds * 1000);
    if (until > lease.validUntil) lease.validUntil = until;
  }

  /** Stops using `lease` and revokes it (deleting the key it holds, if any). Best effort, bounded. */
  async #dropLease(lease: Lease): Promise<void> {
    if (lease.dropped) return;
    lease.dropped = true;
    if (this.#lease === lease) this.#lease = undefined;
    if (this.#leading?.lease === lease) this.#lose('revoked', monotonicMs());
    lease.stream?.end();
    lease.stream = undefined;
    lease.pending = [];
    await this.#revoke(lease);
  }

  async #revoke(lease: Lease): Promise<void> {
    try {
      await this.#request('resign', () => this.#client!.leaseClient.leaseRevoke({ ID: lease.id }, this.#deadline()));
    } catch {
      // Already reported; if etcd never got it, the lease expires by itself within its TTL.
    }
  }

  // --- observing the key ---------------------------------------------------------------------------------------

  #watch(fromRevision: number): void {
    this.#client!.watch()
      .key(this.#o.key)
      .startRevision(String(fromRevision))
      .create()
      .then(
        (watcher) => {
          if (this.#state === 'stopping' || this.#state === 'stopped') {
            void watcher.cancel();
            return;
          }
          this.#watcher = watcher;
          watcher.on('put', (kv) => this.#apply(kv, Number(kv.mod_revision)));
          watcher.on('delete', (kv) => this.#apply(null, Number(kv.mod_revision)));
          // After a reconnection the watch resumes from its last revision; a read closes any gap meanwhile.
          watcher.on('connected', () => void this.#resync());
          watcher.on('error', (error) => this.#failed('watch', error));
        },
        (error: unknown) => {
          this.#failed('watch', error);
          // Retried by the next resync.
        },
      );
  }

  /** Reads the key (a linearizable read) to catch anything the watch missed; recreates a failed watch. */
  async #resync(): Promise<void> {
    if (this.#state !== 'running') return;
    try {
      const res = await this.#request('read', () => this.#client!.get(this.#o.key).options(this.#deadline()).exec());
      this.#applyRange(res);
      if (this.#watcher === undefined && this.#state === 'running') this.#watch(Number(res.header.revision) + 1);
    } catch {
      // Reported by #request.
    }
    this.#maybeCampaign();
  }

  #applyRange(res: IRangeResponse): void {
    this.#apply(res.kvs[0] ?? null, Number(res.header.revision));
  }

  /** Applies the key's state as of etcd `revision` (null: absent). Ignores answers older than what was applied. */
  #apply(kv: IKeyValue | null, revision: number): void {
    if (revision < this.#seenRevision) return;
    this.#seenRevision = revision;
    const term = kv === null ? 0 : Number(kv.create_revision);
    const leaderId = kv === null ? null : Number(kv.value.toString());
    const leading = this.#leading;
    if (leading !== null && term !== leading.term) {
      // Our key is gone, or belongs to someone else: deleted behind our back (etcdctl, a revoked lease).
      this.#lose('revoked', monotonicMs());
      void this.#dropLease(leading.lease);
    }
    this.#seenLeader = leaderId !== null && Number.isSafeInteger(leaderId) && leaderId > 0 ? leaderId : null;
    if (kv !== null) {
      this.#seenTerm = term;
      this.#term = Math.max(this.#term, term);
    }
    this.#reportLeader();
    if (kv === null) this.#maybeCampaign();
  }

  /** Emits `leaderChange` when the leader (or its term) as seen here changed. */
  #reportLeader(): void {
    // Our own key while we do not (or no longer, or not yet) believe we lead: no leader we can vouch for.
    const seen = this.#seenLeader === this.#o.id ? null : this.#seenLeader;
    const leaderId = this.#leading !== null ? this.#o.id : seen;
    const term = leaderId === null ? this.#term : (this.#leading?.term ?? this.#seenTerm);
    if (leaderId === this.#reported.leaderId && (leaderId === null || term === this.#reported.term)) return;
    this.#reported = { leaderId, term };
    this.#emitSafely('leaderChange', leaderId, { term });
  }

  // --- plumbing ------------------------------------------------------------------------------------------------

  /**
   * How long after sending a confirmed keep-alive this node may believe its lease alive: etcd holds it for `ttlMs`
   * on its own clock from a later instant; with both clocks' rates within ±ρ of real time, the same bound as the
   * built-in protocol's vote-leases (docs/protocol.md §2, §13).
   */
  #safeMs(ttlMs: number): number {
    const rho = this.#o.maxDriftRate;
    return (ttlMs * (1 - rho)) / (1 + rho) - 1;
  }

  #deadline(): { deadline: Date } {
    // gRPC deadlines are wall-clock by definition; leadership time never is.
    return { deadline: new Date(Date.now() + this.#o.requestTimeoutMs) };
  }

  /** Runs one etcd request; a failure is counted, logged, reported once per streak, and rethrown typed. */
  async #request<T>(operation: EtcdOperation, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.#failing.delete(operation);
      return result;
    } catch (error) {
      throw this.#failed(operation, error);
    }
  }

  #failed(operation: EtcdOperation, cause: unknown): EtcdBackendError {
    const error = cause instanceof EtcdBackendError ? cause : toEtcdError(operation, cause);
    if (cause instanceof EtcdBackendError) return error;
    this.#failedRequests++;
    log('node %d: %s', this.#o.id, error.message);
    // A failed request is news, not a call to action: the election retries, and a leader whose keep-alives go
    // unconfirmed stops by the safe bound anyway. Reported once per streak.
    if (!this.#failing.has(operation) && this.#state === 'running') {
      this.#failing.add(operation);
      this.#emitSafely('warning', error);
    }
    return error;
  }

  /** Emits without letting a throwing listener corrupt the election: it is rethrown on the next tick. */
  #emitSafely<E extends keyof LeadershipEvents>(event: E, ...args: Parameters<LeadershipEvents[E]>): void {
    try {
      (this.emit as (event: E, ...args: Parameters<LeadershipEvents[E]>) => boolean)(event, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

/** Loads the optional peer dependency, with an actionable error when it is missing. */
async function loadEtcd3(): Promise<typeof import('etcd3')> {
  try {
    return await import('etcd3');
  } catch (cause) {
    throw new EtcdBackendError('connect', 'the etcd backend needs the etcd3 package: npm install etcd3', { cause });
  }
}
