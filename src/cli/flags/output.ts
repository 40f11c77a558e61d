/** `leader-ip run` output flags: JSON lines, the HTTP status server. */
import { parseEndpoint } from '../../util/address.ts';
import { endpointFlag, switchFlag } from '../flag-table.ts';
import { startStatusServer } from '../http-status.ts';
import type { RunGroup } from './group.ts';

export const JSON_FLAG = switchFlag({
  name: 'json',
  help: "JSON lines (with a host-wide monotonic 'mono' timestamp in ms)",
});
export const HTTP = endpointFlag({
  name: 'http',
  allowZeroPort: true,
  help: "serve GET /status (JSON), /healthz and /leader (200 on the leader only,\n503 elsewhere); read with 'leader-ip status --url HOST:PORT'. Bind it to\nloopback or a private interface",
});

export const outputGroup: RunGroup = {
  title: 'Output',
  flags: [JSON_FLAG, HTTP],
  async serve(node, ctx) {
    const text = ctx.values.get(HTTP);
    if (text === undefined) return undefined;
    const floatingIp = ctx.bindings[0]?.status;
    let server: Awaited<ReturnType<typeof startStatusServer>>;
    try {
      server = await startStatusServer(parseEndpoint(text, 'http', true), node, floatingIp);
    } catch (error) {
      throw new Error(`--http: cannot listen on ${text} (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
    ctx.reporter.event('http', { url: server.url }, `status on ${server.url}/status`);
    return () => server.close();
  },
};
