import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FloatingIpBinding } from '../assigners/bind-floating-ip.ts';
import type { EtcdElectionStatus } from '../backends/etcd/etcd-election.ts';
import type { LeadershipSource } from '../leadership/leadership-source.ts';
import type { ElectionNodeStatus } from '../node/election-node.ts';
import { type Endpoint, formatEndpoint } from '../util/address.ts';

/** What `/status` says about the floating IP, beyond the election. */
export interface FloatingIpStatus {
  ip: string;
  /** The last term for which the IP was confirmed on this node (null: never, since start). */
  assignedTerm: number | null;
  /** How long that assignment took, ms. */
  assignedInMs: number | null;
  /** Wall-clock time of that confirmation. */
  assignedAt: string | null;
  /** The last failure (cleared by a later success). */
  lastError: { code: string; message: string; at: string } | null;
}

/** The JSON body of `GET /status`: the node's own snapshot, plus the floating IP when `run` manages one. */
export interface StatusDocument extends ElectionNodeStatus {
  floatingIp: FloatingIpStatus | null;
}

/** `GET /status` of `run --backend etcd`: the etcd backend's snapshot (`backend: 'etcd'`) and the floating IP. */
export interface EtcdStatusDocument extends EtcdElectionStatus {
  floatingIp: FloatingIpStatus | null;
}

/** Follows a binding's events, so `/status` can say when the IP last arrived and what last went wrong. */
export function trackFloatingIp(binding: FloatingIpBinding, ip: string): () => FloatingIpStatus {
  const status: FloatingIpStatus = { ip, assignedTerm: null, assignedInMs: null, assignedAt: null, lastError: null };
  binding.events.on('assigned', ({ term, durationMs }) => {
    status.assignedTerm = term;
    status.assignedInMs = Math.round(durationMs);
    status.assignedAt = new Date().toISOString();
    status.lastError = null;
  });
  const failed = (error: { code?: string; message: string }): void => {
    status.lastError = { code: error.code ?? 'ERR_UNKNOWN', message: error.message, at: new Date().toISOString() };
  };
  binding.events.on('assignFailed', ({ error }) => failed(error));
  binding.events.on('error', failed);
  return () => ({ ...status, lastError: status.lastError === null ? null : { ...status.lastError } });
}

/** What `GET /metrics` serves: Prometheus text from a prom-client registry, or why there is none. */
export type MetricsEndpoint = { contentType: string; render: () => Promise<string> } | { unavailable: string };

export interface StatusServer {
  /** Base URL, e.g. `http://127.0.0.1:9100` (with the real port when started on port 0). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves a node's state over HTTP for operators and load balancers:
 * - `GET /status`: the {@link StatusDocument} as JSON (what `leader-ip status` prints);
 * - `GET /healthz`: 200 while the node runs, 503 once it stops (a process-level liveness check);
 * - `GET /leader`: 200 on the leader only, 503 elsewhere, so a load balancer's health check can send traffic to
 *   the leader alone, with or without a floating IP.
 * Read-only, no secrets in any answer; still, bind it to loopback or a private interface.
 */
export async function startStatusServer(
  listen: Endpoint,
  node: LeadershipSource,
  floatingIp: () => FloatingIpStatus | null = () => null,
  metrics?: MetricsEndpoint,
): Promise<StatusServer> {
  const server = createServer((req, res) => handle(req, res, node, floatingIp, metrics));
  // A status page must never keep a stopping process alive through idle keep-alive sockets.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${formatEndpoint({ host: listen.host, port })}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  node: LeadershipSource,
  floatingIp: () => FloatingIpStatus | null,
  metrics: MetricsEndpoint | undefined,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    return;
  }
  const path = new URL(req.url ?? '/', 'http://status').pathname;
  const status = node.status();
  switch (path) {
    case '/status': {
      const document: StatusDocument | EtcdStatusDocument = {
        // Each backend's status() is its own document type (ElectionNodeStatus or EtcdElectionStatus).
        ...(status as ElectionNodeStatus | EtcdElectionStatus),
        floatingIp: floatingIp(),
      };
      send(res, 200, document);
      return;
    }
    case '/healthz':
      send(res, status.state === 'running' ? 200 : 503, { id: status.id, state: status.state });
      return;
    case '/leader':
      send(res, status.isLeader ? 200 : 503, {
        id: status.id,
        isLeader: status.isLeader,
        leaderId: status.leaderId,
        term: status.term,
      });
      return;
    case '/metrics':
      if (metrics === undefined || 'unavailable' in metrics) {
        send(res, 501, { error: metrics?.unavailable ?? 'metrics are not enabled' });
        return;
      }
      metrics.render().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => send(res, 500, { error: `metrics failed: ${(error as Error).message}` }),
      );
      return;
    default:
      send(res, 404, { error: 'not found', paths: ['/status', '/healthz', '/leader', '/metrics'] });
  }
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
