/** `leader-ip run` floating-IP flags (DigitalOcean): which IP, credentials, API endpoints, polling. */
import { BIND_FLOATING_IP_DEFAULTS, bindFloatingIp, type FloatingIpBinding } from '../../assigners/bind-floating-ip.ts';
import { DIGITALOCEAN_DEFAULTS } from '../../assigners/digitalocean/defaults.ts';
import {
  flagError,
  intFlag,
  ipFlag,
  pathFlag,
  readSecretFile,
  stringFlag,
  UsageError,
  urlFlag,
} from '../flag-table.ts';
import { trackFloatingIp } from '../http-status.ts';
import { errorFields, type Reporter } from '../reporter.ts';
import type { RunContext, RunGroup } from './group.ts';

export const FLOATING_IP = ipFlag({
  name: 'floating-ip',
  help: 'reserved IP (IPv4 or IPv6) to move to the leader',
  option: 'ip',
});
export const TOKEN_FILE = pathFlag({ name: 'token-file', help: 'API token file (or set DIGITALOCEAN_TOKEN)' });
export const TOKEN = stringFlag({
  name: 'token',
  metavar: 'TOKEN',
  help: 'API token (visible in ps: prefer --token-file)',
  check: (value) => (/^[\x21-\x7e]+$/.test(value) ? undefined : 'must be printable ASCII without spaces'),
});
export const DROPLET_ID = intFlag({
  name: 'droplet-id',
  min: 1,
  help: "this droplet's ID",
  defaultText: 'metadata service',
  option: 'dropletId',
});
export const API_URL = urlFlag({
  name: 'api-url',
  help: 'API base URL',
  default: DIGITALOCEAN_DEFAULTS.baseUrl,
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
  help: 'while leading, re-check the IP every N ms',
  default: BIND_FLOATING_IP_DEFAULTS.reconcileIntervalMs,
  option: 'reconcileIntervalMs',
});
export const POLL_MS = intFlag({
  name: 'poll-ms',
  min: 1,
  help: 'first delay between action polls',
  default: DIGITALOCEAN_DEFAULTS.pollIntervalMs,
  option: 'pollIntervalMs',
});

const FLAGS = [FLOATING_IP, TOKEN_FILE, TOKEN, DROPLET_ID, API_URL, METADATA_URL, RECONCILE_MS, POLL_MS];

/** The API token: --token-file, else --token (with a warning, once), else DIGITALOCEAN_TOKEN. */
function token(ctx: RunContext): string {
  return ctx.memo('floating-ip.token', () => {
    const file = ctx.values.get(TOKEN_FILE);
    if (file !== undefined) return readSecretFile(file, TOKEN_FILE.name);
    const inline = ctx.values.get(TOKEN);
    if (inline !== undefined) {
      ctx.reporter.event('warning', {}, 'warning: --token is visible to every user in ps; prefer --token-file');
      return inline;
    }
    const fromEnv = ctx.env.DIGITALOCEAN_TOKEN;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    throw new UsageError('--floating-ip needs a token: --token-file PATH or DIGITALOCEAN_TOKEN');
  });
}

export const floatingIpGroup: RunGroup = {
  title: 'Floating IP (DigitalOcean)',
  flags: FLAGS,
  validate(ctx) {
    const { values } = ctx;
    if (values.get(FLOATING_IP) === undefined) {
      // --metadata-url also serves --id's default, so it stands alone.
      const stray = FLAGS.find((flag) => flag !== FLOATING_IP && flag !== METADATA_URL && values.has(flag));
      if (stray !== undefined) throw new UsageError(`--${stray.name} needs --floating-ip`);
      return;
    }
    token(ctx);
  },
  async attach(node, ctx) {
    const ip = ctx.values.get(FLOATING_IP);
    if (ip === undefined) return undefined;
    let dropletId = ctx.values.get(DROPLET_ID);
    if (dropletId === undefined) {
      try {
        dropletId = await ctx.dropletId();
      } catch (error) {
        throw new UsageError(
          `--droplet-id not given and the droplet metadata service failed (${(error as Error).message})`,
        );
      }
    }
    // Loaded only when needed: the DigitalOcean module is the only one that pulls in ky.
    const { DigitalOceanAssigner } = await import('../../digitalocean.ts');
    let binding: FloatingIpBinding;
    try {
      const assigner = new DigitalOceanAssigner({
        token: token(ctx),
        ip,
        dropletId,
        baseUrl: ctx.values.get(API_URL),
        metadataUrl: ctx.values.get(METADATA_URL),
        pollIntervalMs: ctx.values.get(POLL_MS),
      });
      binding = bindFloatingIp(node, assigner, { reconcileIntervalMs: ctx.values.get(RECONCILE_MS) });
    } catch (error) {
      throw flagError(error, FLAGS);
    }
    wireBindingEvents(binding, ctx.reporter, ip);
    ctx.bindings.push({ binding, status: trackFloatingIp(binding, ip) });
    return () => binding.unbind();
  },
};

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
