/** `leader-ip run` flags for who may lead: health checks, voter-only witnesses, preemption control. */
import { commandHealthCheck, httpHealthCheck } from '../../health/checks.ts';
import { HEALTH_DEFAULTS } from '../../health/health-options.ts';
import { LEADERSHIP_DEFAULTS } from '../../leadership/leadership-options.ts';
import { intFlag, stringFlag, switchFlag, UsageError, urlFlag } from '../flag-table.ts';
import type { RunGroup } from './group.ts';

export const VOTER_ONLY = switchFlag({
  name: 'voter-only',
  help: 'vote and count toward the majority, never lead\n(a witness, e.g. in another region)',
  option: 'voterOnly',
});
export const HEALTH_URL = urlFlag({
  name: 'health-url',
  help: 'healthy while a GET of URL answers 2xx within --health-timeout',
});
export const HEALTH_CMD = stringFlag({
  name: 'health-cmd',
  metavar: "'CMD'",
  help: 'healthy while CMD exits 0 within --health-timeout; run without a shell\n(quotes group words) unless --health-shell',
});
export const HEALTH_SHELL = switchFlag({ name: 'health-shell', help: 'run --health-cmd through /bin/sh -c' });
export const HEALTH_INTERVAL = intFlag({
  name: 'health-interval',
  metavar: 'MS',
  min: 1,
  help: 'ms between the starts of two health checks',
  default: HEALTH_DEFAULTS.intervalMs,
  option: 'health.intervalMs',
});
export const HEALTH_TIMEOUT = intFlag({
  name: 'health-timeout',
  metavar: 'MS',
  min: 1,
  help: 'a check slower than this (ms) fails; below --health-interval',
  default: HEALTH_DEFAULTS.timeoutMs,
  option: 'health.timeoutMs',
});
export const FALL = intFlag({
  name: 'fall',
  min: 1,
  help: 'failed checks in a row that make the node unhealthy\n(a leader steps down)',
  default: HEALTH_DEFAULTS.fall,
  option: 'health.fall',
});
export const RISE = intFlag({
  name: 'rise',
  min: 1,
  help: 'passed checks in a row that make it healthy again',
  default: HEALTH_DEFAULTS.rise,
  option: 'health.rise',
});
export const NO_PREEMPT = switchFlag({
  name: 'no-preempt',
  help: 'a live, healthy leader is never displaced by a lower ID\n(set the same on every member)',
  option: 'preempt',
});
export const PREEMPT_DELAY = intFlag({
  name: 'preempt-delay',
  metavar: 'MS',
  min: 0,
  help: 'a lower ID takes over from a live leader only after\nbeing able to lead this long',
  default: LEADERSHIP_DEFAULTS.preemptDelayMs,
  option: 'preemptDelayMs',
});

const TUNING = [HEALTH_INTERVAL, HEALTH_TIMEOUT, FALL, RISE, HEALTH_SHELL] as const;

export const healthGroup: RunGroup = {
  title: 'Leadership and health',
  flags: [
    VOTER_ONLY,
    HEALTH_URL,
    HEALTH_CMD,
    HEALTH_SHELL,
    HEALTH_INTERVAL,
    HEALTH_TIMEOUT,
    FALL,
    RISE,
    NO_PREEMPT,
    PREEMPT_DELAY,
  ],
  validate({ values }) {
    const url = values.get(HEALTH_URL);
    const cmd = values.get(HEALTH_CMD);
    if (url !== undefined && cmd !== undefined)
      throw new UsageError('--health-url and --health-cmd: give one, not both');
    if (values.get(HEALTH_SHELL) === true && cmd === undefined)
      throw new UsageError('--health-shell needs --health-cmd');
    if (url === undefined && cmd === undefined) {
      for (const flag of TUNING) {
        if (values.has(flag)) throw new UsageError(`--${flag.name} needs --health-url or --health-cmd`);
      }
    }
    if (values.get(NO_PREEMPT) === true && values.has(PREEMPT_DELAY)) {
      throw new UsageError('--preempt-delay has no effect with --no-preempt');
    }
  },
  nodeOptions({ values }) {
    const url = values.get(HEALTH_URL);
    const cmd = values.get(HEALTH_CMD);
    let check: ReturnType<typeof httpHealthCheck> | undefined;
    try {
      if (url !== undefined) check = httpHealthCheck(url);
      else if (cmd !== undefined) check = commandHealthCheck(cmd, { shell: values.get(HEALTH_SHELL) === true });
    } catch (error) {
      throw new UsageError(`--${url !== undefined ? 'health-url' : 'health-cmd'}: ${(error as Error).message}`);
    }
    return {
      voterOnly: values.get(VOTER_ONLY) === true ? true : undefined,
      preempt: values.get(NO_PREEMPT) === true ? false : undefined,
      preemptDelayMs: values.get(PREEMPT_DELAY),
      health:
        check === undefined
          ? undefined
          : {
              check,
              intervalMs: values.get(HEALTH_INTERVAL),
              timeoutMs: values.get(HEALTH_TIMEOUT),
              fall: values.get(FALL),
              rise: values.get(RISE),
            },
    };
  },
  async attach(node, ctx) {
    const onChange = ({ healthy, reason }: { healthy: boolean; reason: string }): void =>
      ctx.reporter.event('healthChange', { healthy, reason }, healthy ? 'healthy' : `unhealthy: ${reason}`);
    node.on('healthChange', onChange);
    // SIGUSR2 drains (setHealthy(false): a leader hands over within a round trip, the node keeps voting) and
    // undrains on the next one: a rolling deploy drains, waits for another leader, then sends SIGTERM.
    let draining = false;
    const onDrain = (): void => {
      draining = !draining;
      ctx.reporter.event('drain', { draining }, draining ? 'SIGUSR2: draining' : 'SIGUSR2: no longer draining');
      node.setHealthy(!draining, draining ? 'draining (SIGUSR2)' : undefined);
    };
    process.on('SIGUSR2', onDrain);
    return async () => {
      process.off('SIGUSR2', onDrain);
      node.off('healthChange', onChange);
    };
  },
};
