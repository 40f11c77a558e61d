/**
 * `leader-ip run` floating-IP flags: which provider, which IPs (the flag repeats), credentials, this machine's ID,
 * API endpoints, polling. Each provider's module is loaded only when it is used (they pull in HTTP clients).
 */

import { isIP } from 'node:net';
import { BIND_FLOATING_IP_DEFAULTS, type FloatingIpBinding } from '../../assigners/bind-floating-ip.ts';
import { bindFloatingIps } from '../../assigners/bind-floating-ips.ts';
import { DIGITALOCEAN_DEFAULTS } from '../../assigners/digitalocean/defaults.ts';
import type { FloatingIpAssigner, HolderId } from '../../assigners/floating-ip-assigner.ts';
import {
  enumFlag,
  flagError,
  intFlag,
  listFlag,
  pathFlag,
  readSecretFile,
  stringFlag,
  UsageError,
  urlFlag,
} from '../flag-table.ts';
import { trackFloatingIp } from '../http-status.ts';
import { errorFields, type Reporter } from '../reporter.ts';
import { ID } from './cluster.ts';
import type { RunContext, RunGroup } from './group.ts';

/** The providers `--provider` accepts. */
export const PROVIDERS = ['digitalocean', 'hetzner', 'vultr', 'aws'] as const;
type Provider = (typeof PROVIDERS)[number];

/** Each provider's usual credential variable (AWS reads its standard variables or the instance role itself). */
const TOKEN_ENV: Record<Provider, string | undefined> = {
  digitalocean: 'DIGITALOCEAN_TOKEN',
  hetzner: 'HCLOUD_TOKEN',
  vultr: 'VULTR_API_KEY',
  aws: undefined,
};

export const PROVIDER = enumFlag({
  name: 'provider',
  values: PROVIDERS,
  help: 'cloud of the floating IPs',
  default: 'digitalocean',
});
export const FLOATING_IP = listFlag({
  name: 'floating-ip',
  metavar: 'IP',
  repeatable: true,
  help: 'floating/reserved IP to move to the leader;\nrepeat (or list a,b) for several, moved concurrently',
  option: 'ip',
  item: (value, flag) => {
    if (isIP(value) === 0) throw new UsageError(`${flag}: expected an IPv4 or IPv6 address, got '${value}'`);
  },
});
export const TOKEN_FILE = pathFlag({
  name: 'token-file',
  help: 'API token file (or set DIGITALOCEAN_TOKEN,\nHCLOUD_TOKEN or VULTR_API_KEY, by provider)',
});
export const TOKEN = stringFlag({
  name: 'token',
  metavar: 'TOKEN',
  help: 'API token (visible in ps: prefer --token-file)',
  check: (value) => (/^[\x21-\x7e]+$/.test(value) ? undefined : 'must be printable ASCII without spaces'),
});
export const DROPLET_ID = intFlag({
  name: 'droplet-id',
  min: 1,
  help: "digitalocean: this droplet's ID",
  defaultText: 'metadata service',
  option: 'dropletId',
});
export const SERVER_ID = intFlag({
  name: 'server-id',
  min: 1,
  help: "hetzner: this server's ID",
  defaultText: 'metadata service',
  option: 'serverId',
});
export const INSTANCE_ID = stringFlag({
  name: 'instance-id',
  metavar: 'ID',
  help: "vultr, aws: this instance's ID",
  defaultText: 'metadata service',
  option: 'instanceId',
  check: (value) => (/^[0-9A-Za-z-]{1,64}$/.test(value) ? undefined : 'expected letters, digits and dashes'),
});
export const REGION = stringFlag({
  name: 'region',
  metavar: 'REGION',
  help: 'aws: region of the Elastic IPs',
  defaultText: 'AWS_REGION, else the instance metadata',
  option: 'region',
});
export const API_URL = urlFlag({
  name: 'api-url',
  help: 'API base URL (aws: the EC2 endpoint)',
  defaultText: "the provider's public API",
  option: 'baseUrl',
});
export const METADATA_URL = urlFlag({
  name: 'metadata-url',
  help: 'metadata service',
  default: DIGITALOCEAN_DEFAULTS.metadataUrl,
  option: 'metadataUrl',
});
export const RECONCILE_MS = intFlag({
  name: 'reconcile-ms',
  min: 1,
  help: 'while leading, re-check the IPs every N ms',
  default: BIND_FLOATING_IP_DEFAULTS.reconcileIntervalMs,
  option: 'reconcileIntervalMs',
});
export const POLL_MS = intFlag({
  name: 'poll-ms',
  min: 1,
  help: 'first delay between action polls or confirming reads',
  default: DIGITALOCEAN_DEFAULTS.pollIntervalMs,
  option: 'pollIntervalMs',
});

const FLAGS = [
  PROVIDER,
  FLOATING_IP,
  TOKEN_FILE,
  TOKEN,
  DROPLET_ID,
  SERVER_ID,
  INSTANCE_ID,
  REGION,
  API_URL,
  METADATA_URL,
  RECONCILE_MS,
  POLL_MS,
];

/** The flags that belong to one provider only. */
const ONLY_FOR = new Map<(typeof FLAGS)[number], readonly Provider[]>([
  [DROPLET_ID, ['digitalocean']],
  [SERVER_ID, ['hetzner']],
  [INSTANCE_ID, ['vultr', 'aws']],
  [REGION, ['aws']],
  [TOKEN_FILE, ['digitalocean', 'hetzner', 'vultr']],
  [TOKEN, ['digitalocean', 'hetzner', 'vultr']],
  [POLL_MS, ['digitalocean', 'hetzner', 'vultr']],
]);

function provider(ctx: RunContext): Provider {
  return ctx.values.get(PROVIDER) ?? 'digitalocean';
}

/** The API token: --token-file, else --token (with a warning, once), else the provider's variable. */
function token(ctx: RunContext): string {
  return ctx.memo('floating-ip.token', () => {
    const file = ctx.values.get(TOKEN_FILE);
    if (file !== undefined) return readSecretFile(file, TOKEN_FILE.name);
    const inline = ctx.values.get(TOKEN);
    if (inline !== undefined) {
      ctx.reporter.event('warning', {}, 'warning: --token is visible to every user in ps; prefer --token-file');
      return inline;
    }
    const variable = TOKEN_ENV[provider(ctx)] as string;
    const fromEnv = ctx.env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    throw new UsageError(`--floating-ip needs a token: --token-file PATH or ${variable}`);
  });
}

export const floatingIpGroup: RunGroup = {
  title: 'Floating IPs (DigitalOcean, Hetzner, Vultr, AWS)',
  flags: FLAGS,
  validate(ctx) {
    const { values } = ctx;
    const ips = values.get(FLOATING_IP);
    if (ips === undefined || ips.length === 0) {
      // --metadata-url also serves --id's default, so it stands alone.
      const stray = FLAGS.find((flag) => flag !== FLOATING_IP && flag !== METADATA_URL && values.has(flag));
      if (stray !== undefined) throw new UsageError(`--${stray.name} needs --floating-ip`);
      return;
    }
    const cloud = provider(ctx);
    for (const [flag, providers] of ONLY_FOR) {
      if (values.has(flag) && !providers.includes(cloud)) {
        throw new UsageError(`--${flag.name} does not apply to --provider ${cloud}`);
      }
    }
    const duplicate = ips.find((ip, i) => ips.indexOf(ip) !== i);
    if (duplicate !== undefined) throw new UsageError(`--floating-ip: ${duplicate} given twice`);
    if (cloud === 'aws' && ips.some((ip) => isIP(ip) !== 4)) {
      throw new UsageError('--floating-ip: an AWS Elastic IP is an IPv4 address');
    }
    // Only a droplet ID doubles as a node ID; elsewhere the node needs one.
    if (cloud !== 'digitalocean' && values.get(ID) === undefined) {
      throw new UsageError(`--id is required with --provider ${cloud}`);
    }
    if (TOKEN_ENV[cloud] !== undefined) token(ctx);
  },
  async attach(node, ctx) {
    const ips = ctx.values.get(FLOATING_IP);
    if (ips === undefined || ips.length === 0) return undefined;
    const cloud = provider(ctx);
    const make = await factory(cloud, ctx);
    let binding: ReturnType<typeof bindFloatingIps>;
    try {
      // The first assigner finds this machine's ID (metadata service, once); the others are given it.
      const first = make(ips[0] as string, undefined);
      const me = await selfId(first, cloud);
      const assigners = [first, ...ips.slice(1).map((ip) => make(ip, me))];
      binding = bindFloatingIps(
        node,
        Object.fromEntries(ips.map((ip, i) => [ip, assigners[i] as FloatingIpAssigner])),
        { reconcileIntervalMs: ctx.values.get(RECONCILE_MS) },
      );
    } catch (error) {
      throw flagError(error, FLAGS);
    }
    for (const [ip, one] of binding.bindings) {
      wireBindingEvents(one, ctx.reporter, ip);
      ctx.bindings.push({ binding: one, status: trackFloatingIp(one, ip) });
    }
    if (ips.length > 1) {
      binding.events.on('allAssigned', ({ term, durationMs }) =>
        ctx.reporter.event(
          'allAssigned',
          { ips: ips.join(','), term, durationMs: Math.round(durationMs) },
          `all ${ips.length} IPs moved here in ${Math.round(durationMs)} ms (term ${term})`,
        ),
      );
    }
    return () => binding.unbind();
  },
};

/** A constructor of the provider's assigner for one IP, given this machine's ID once known. */
type Factory = (ip: string, me: HolderId | undefined) => FloatingIpAssigner;

async function factory(cloud: Provider, ctx: RunContext): Promise<Factory> {
  const { values } = ctx;
  const baseUrl = values.get(API_URL);
  const metadataUrl = values.get(METADATA_URL);
  const pollIntervalMs = values.get(POLL_MS);
  switch (cloud) {
    case 'digitalocean': {
      let dropletId = values.get(DROPLET_ID);
      if (dropletId === undefined) {
        try {
          dropletId = await ctx.dropletId();
        } catch (error) {
          throw new UsageError(
            `--droplet-id not given and the droplet metadata service failed (${(error as Error).message})`,
          );
        }
      }
      const { DigitalOceanAssigner } = await import('../../digitalocean.ts');
      const id = dropletId;
      return (ip) =>
        new DigitalOceanAssigner({ token: token(ctx), ip, dropletId: id, baseUrl, metadataUrl, pollIntervalMs });
    }
    case 'hetzner': {
      const { HetznerAssigner } = await import('../../hetzner.ts');
      return (ip, me) =>
        new HetznerAssigner({
          token: token(ctx),
          ip,
          serverId: values.get(SERVER_ID) ?? (me as number | undefined),
          baseUrl,
          metadataUrl,
          pollIntervalMs,
        });
    }
    case 'vultr': {
      const { VultrAssigner } = await import('../../vultr.ts');
      return (ip, me) =>
        new VultrAssigner({
          token: token(ctx),
          ip,
          instanceId: values.get(INSTANCE_ID) ?? (me as string | undefined),
          baseUrl,
          metadataUrl,
          pollIntervalMs,
        });
    }
    case 'aws': {
      const { ElasticIpAssigner } = await import('../../aws.ts');
      return (ip, me) =>
        new ElasticIpAssigner({
          ip,
          region: values.get(REGION),
          instanceId: values.get(INSTANCE_ID) ?? (me as string | undefined),
          endpoint: baseUrl,
          metadataUrl,
          env: ctx.env,
        });
    }
  }
}

// This machine's ID, read before the node starts so that a machine off the provider fails at once, clearly.
async function selfId(assigner: FloatingIpAssigner, cloud: Provider): Promise<HolderId> {
  try {
    return await assigner.self();
  } catch (error) {
    const flag = { digitalocean: DROPLET_ID, hetzner: SERVER_ID, vultr: INSTANCE_ID, aws: INSTANCE_ID }[cloud];
    throw new UsageError(`--${flag.name} not given and the metadata service failed (${(error as Error).message})`);
  }
}

function wireBindingEvents(binding: FloatingIpBinding, reporter: Reporter, ip: string): void {
  binding.events.on('assigned', ({ term, durationMs, attempts }) =>
    reporter.event(
      'assigned',
      { ip, term, durationMs: Math.round(durationMs), attempts },
      `${ip} moved here in ${Math.round(durationMs)} ms (term ${term}, ${attempts} attempt${attempts === 1 ? '' : 's'})`,
    ),
  );
  binding.events.on('assignFailed', ({ term, error, willRetry }) =>
    reporter.event(
      'assignFailed',
      { ip, term, willRetry, ...errorFields(error) },
      `could not move ${ip} (term ${term}): ${error.message}${willRetry ? '; retrying' : ''}`,
    ),
  );
  binding.events.on('reconciled', ({ term, holder, corrected }) => {
    if (corrected) {
      reporter.event(
        'reconciled',
        { ip, term, holder: holder === null ? null : String(holder), corrected },
        `${ip} was on ${holder ?? 'nobody'}: moved back`,
      );
    }
  });
  binding.events.on('error', (error) => reporter.event('error', errorFields(error), `warning: ${error.message}`));
}
