/** `leader-ip run` output flags: JSON lines, the HTTP status server. */

import { parseEndpoint } from '../../util/address.ts';
import { endpointFlag, switchFlag } from '../flag-table.ts';
import { type MetricsEndpoint, startStatusServer } from '../http-status.ts';
import type { RunContext, RunGroup, RunNode } from './group.ts';

export const JSON_FLAG = switchFlag({
  name: 'json',
  help: "JSON lines (with a host-wide monotonic 'mono' timestamp in ms)",
});
export const HTTP = endpointFlag({
  name: 'http',
  allowZeroPort: true,
  help: "serve GET /status (JSON), /healthz, /leader (200 on the leader only, 503\nelsewhere) and /metrics (Prometheus, needs the prom-client package); read\nwith 'leader-ip status --url HOST:PORT'. Bind it to loopback or a private\ninterface",
});

export const outputGroup: RunGroup = {
  title: 'Output',
  flags: [JSON_FLAG, HTTP],
  async serve(node, ctx) {
    const text = ctx.values.get(HTTP);
    if (text === undefined) return undefined;
    const floatingIp = ctx.bindings[0]?.status;
    const metrics = await metricsEndpoint(node, ctx);
    let server: Awaited<ReturnType<typeof startStatusServer>>;
    try {
      server = await startStatusServer(parseEndpoint(text, 'http', true), node, floatingIp, metrics);
    } catch (error) {
      throw new Error(`--http: cannot listen on ${text} (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
    ctx.reporter.event('http', { url: server.url }, `status on ${server.url}/status`);
    return () => server.close();
  },
};

/**
 * The node's and its bindings' metrics (`leader-ip/prometheus`) plus the process's own (prom-client's defaults:
 * CPU, memory, event-loop lag), in a registry of their own. prom-client is an optional peer dependency: without
 * it, /metrics answers 501 and a warning says what to install.
 */
async function metricsEndpoint(node: RunNode, ctx: RunContext): Promise<MetricsEndpoint> {
  let client: typeof import('prom-client');
  try {
    client = await import('prom-client');
  } catch {
    const unavailable = "install the 'prom-client' package to serve /metrics";
    ctx.reporter.event('warning', {}, `warning: ${unavailable}`);
    return { unavailable };
  }
  const { registerLeaderIpMetrics } = await import('../../metrics/prometheus.ts');
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  registerLeaderIpMetrics(registry, node, {
    bindings: ctx.bindings.map(({ binding, status }) => ({ binding, ip: status().ip })),
  });
  return { contentType: registry.contentType, render: () => registry.metrics() };
}
