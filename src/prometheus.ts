/**
 * `leader-ip/prometheus`: Prometheus metrics through prom-client (an optional peer dependency: install
 * `prom-client` to use this entry; no other entry loads it).
 *
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerLeaderIpMetrics } from 'leader-ip/prometheus';
 *
 * const registry = new Registry();
 * registerLeaderIpMetrics(registry, node, { bindings: [{ binding, ip: '203.0.113.7' }] });
 * // GET /metrics: res.setHeader('content-type', registry.contentType); res.end(await registry.metrics());
 * ```
 * @module
 */

export {
  ASSIGN_DURATION_BUCKETS,
  type LeaderIpMetrics,
  type LeaderIpMetricsOptions,
  type ObservedBinding,
  registerLeaderIpMetrics,
} from './metrics/prometheus.ts';
