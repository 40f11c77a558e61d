/**
 * A FakeDigitalOcean in a process of its own, so that it can run inside a network namespace (started with
 * `ip netns exec`) and listen on an address that exists only there, such as the partition bench's bridge.
 *
 * `node --import tsx bench/lib/fake-api-child.ts HOST TOKEN IP ACTION_MS DROPLET_ID...`
 *
 * stdout (the bench's event protocol, `bench/lib/child.ts`):
 * - `{"event": "listening", "url": ...}` once it serves;
 * - `{"event": "report", "seq": N, "holder": <droplet or null>, "assigns": {<droplet>: <count>}, "requests": <count>}`
 *   for each `report N` line read on stdin; counts are of API requests since the start (assigns: POSTs of an
 *   assign action for this IP, by the droplet they name, whatever the answer).
 * stdin: `report N`, or `move DROPLET` (the harness puts the IP somewhere, as an operator would: no request is
 * counted). It exits when stdin closes (the bench ended or died).
 */
import readline from 'node:readline';
import { FakeDigitalOcean } from '../../src/testing/fake-digitalocean.ts';
import { emit, fail } from './child.ts';

const [host, token, ip, actionMs, ...droplets] = process.argv.slice(2);
if (!host || !token || !ip || !actionMs || droplets.length === 0) {
  fail('usage: fake-api-child.ts HOST TOKEN IP ACTION_MS DROPLET_ID...');
}

const fake = await FakeDigitalOcean.start({
  host,
  token,
  droplets: droplets.map((id) => ({ id: Number(id), region: 'nyc3' })),
  reservedIps: [{ ip, region: 'nyc3' }],
  actionDurationMs: Number(actionMs),
  // The bench counts calls; a rate limit would change what the tools do over a long run, not what is measured.
  rateLimit: { limit: 1_000_000, windowMs: 60_000 },
}).catch((error: unknown) => fail(error));

function report(seq: number): void {
  const assigns: Record<string, number> = {};
  const api = fake.apiRequests();
  for (const r of api) {
    const body = r.body as { type?: unknown; droplet_id?: unknown } | undefined;
    if (r.method !== 'POST' || !r.path.startsWith(`/v2/reserved_ips/${ip}/actions`) || body?.type !== 'assign') {
      continue;
    }
    const droplet = String(body.droplet_id);
    assigns[droplet] = (assigns[droplet] ?? 0) + 1;
  }
  emit('report', { seq, holder: fake.holder(ip!), assigns, requests: api.length });
}

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [command, arg] = line.trim().split(/\s+/);
  if (command === 'report') report(Number(arg));
  else if (command === 'move') fake.moveIp(ip!, Number(arg));
});
input.on('close', () => {
  void fake.close().finally(() => process.exit(0));
});
emit('listening', { url: fake.url });
