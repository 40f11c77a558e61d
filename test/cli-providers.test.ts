import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { UsageError } from '../src/cli/flag-table.ts';
import { runCommand } from '../src/cli/run.ts';
import { FakeEc2 } from '../src/testing/fake-ec2.ts';
import { FakeVultr } from '../src/testing/fake-vultr.ts';
import { ProcessCluster } from '../src/testing/process-cluster.ts';
import { startValidatedFake } from './support/fake-do.ts';
import { assertNoViolations, startValidatedHetzner, startValidatedVultr } from './support/fake-providers.ts';

/** `leader-ip run --provider …` against each provider's fake: one node, two floating IPs (one for AWS). */

async function runUntilAllHere(
  t: TestContext,
  args: string[],
  ips: string[],
  env: NodeJS.ProcessEnv,
  holders: () => Array<string | number | null>,
  me: string | number,
): Promise<void> {
  const cluster = new ProcessCluster({ ids: [1], args, env });
  t.after(() => cluster.stop());
  const assigned = ips.map((ip) => cluster.waitFor((e) => e.event === 'assigned' && e.ip === ip, 30_000));
  await cluster.start();
  await Promise.all(assigned);
  assert.deepEqual(
    holders(),
    ips.map(() => me),
  );
}

describe('leader-ip run --provider', { timeout: 90_000 }, () => {
  it('digitalocean (the default) with --token-file and two --floating-ip', async (t) => {
    const token = 'dop_v1_cli_provider_test_token_0123456789';
    const ips = ['203.0.113.10', '203.0.113.11'];
    const fake = await startValidatedFake({
      token,
      reservedIps: ips.map((ip) => ({ ip, region: 'nyc3' })),
      droplets: [{ id: 101, region: 'nyc3' }],
    });
    t.after(async () => {
      await fake.close();
      assertNoViolations(fake);
    });
    const dir = mkdtempSync(join(tmpdir(), 'leader-ip-cli-'));
    writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
    const args = ['--floating-ip', ips[0]!, '--floating-ip', ips[1]!, '--token-file', join(dir, 'token')];
    args.push('--api-url', fake.url, '--droplet-id', '101', '--poll-ms', '10');
    await runUntilAllHere(t, args, ips, {}, () => ips.map((ip) => fake.holder(ip)), 101);
  });

  it('hetzner with HCLOUD_TOKEN, an IPv4 and an IPv6, the server ID from the metadata service', async (t) => {
    const token = 'hcloud-cli-provider-test-token-0123456789';
    const fake = await startValidatedHetzner({
      token,
      floatingIps: [
        { id: 1, ip: '198.51.100.20' },
        { id: 2, ip: '2001:db8:1::/64' },
      ],
      metadataServerId: 1002,
    });
    t.after(async () => {
      await fake.close();
      assertNoViolations(fake);
    });
    const ips = ['198.51.100.20', '2001:db8:1::1'];
    const args = ['--provider', 'hetzner', '--floating-ip', ips.join(','), '--api-url', fake.url];
    args.push('--metadata-url', fake.url, '--poll-ms', '10');
    await runUntilAllHere(
      t,
      args,
      ips,
      { HCLOUD_TOKEN: token },
      () => [fake.holder('198.51.100.20'), fake.holder('2001:db8:1::/64')],
      1002,
    );
    assert.equal(fake.requests.filter((r) => r.kind === 'metadata').length, 1, 'the server ID is read once');
  });

  it('vultr with VULTR_API_KEY and --instance-id', async (t) => {
    const token = 'VULTRCLIPROVIDERTEST0123456789';
    const ips = ['192.0.2.50', '192.0.2.51'];
    const fake = await startValidatedVultr({
      token,
      reservedIps: ips.map((ip, i) => ({ id: `rip-000${i}`, ip })),
    });
    t.after(async () => {
      await fake.close();
      assertNoViolations(fake);
    });
    const me = FakeVultr.INSTANCES[1]!;
    const args = ['--provider', 'vultr', '--floating-ip', ips[0]!, '--floating-ip', ips[1]!, '--instance-id', me];
    args.push('--api-url', fake.url, '--poll-ms', '10');
    await runUntilAllHere(t, args, ips, { VULTR_API_KEY: token }, () => ips.map((ip) => fake.holder(ip)), me);
  });

  it('aws with the standard AWS_* variables and --region', async (t) => {
    const fake = await FakeEc2.start({ region: 'eu-west-1' });
    t.after(() => fake.close());
    const ip = '198.51.100.10';
    const args = ['--provider', 'aws', '--floating-ip', ip, '--region', 'eu-west-1', '--api-url', fake.url];
    args.push('--instance-id', 'i-00000000000000002', '--metadata-url', fake.url);
    const env = {
      AWS_ACCESS_KEY_ID: FakeEc2.DEFAULT_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FakeEc2.DEFAULT_CREDENTIALS.secretAccessKey,
    };
    await runUntilAllHere(t, args, [ip], env, () => [fake.holder(ip)], 'i-00000000000000002');
  });

  it('refuses, before any I/O, flags of another provider, a missing token or --id, AWS IPv6, a repeated IP', async () => {
    const run = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> => {
      try {
        await runCommand(['--listen', '127.0.0.1:0', ...args], env);
      } catch (error) {
        assert.ok(error instanceof UsageError, String(error));
        return error.message;
      }
      assert.fail('expected a UsageError');
    };
    const hetzner = ['--id', '1', '--provider', 'hetzner', '--floating-ip', '198.51.100.20'];
    assert.equal(
      await run([...hetzner, '--droplet-id', '5'], { HCLOUD_TOKEN: 't' }),
      '--droplet-id does not apply to --provider hetzner',
    );
    assert.match(await run(hetzner), /^--floating-ip needs a token: --token-file PATH or HCLOUD_TOKEN/);
    assert.equal(
      await run(['--provider', 'vultr', '--floating-ip', '192.0.2.1'], { VULTR_API_KEY: 't' }),
      '--id is required with --provider vultr',
    );
    assert.equal(
      await run(['--id', '1', '--provider', 'aws', '--floating-ip', '2001:db8::1']),
      '--floating-ip: an AWS Elastic IP is an IPv4 address',
    );
    assert.equal(
      await run(['--id', '1', '--provider', 'aws', '--floating-ip', '192.0.2.1', '--token-file', '/x']),
      '--token-file does not apply to --provider aws',
    );
    assert.equal(
      await run(['--floating-ip', '192.0.2.1', '--floating-ip', '192.0.2.1'], { DIGITALOCEAN_TOKEN: 't' }),
      '--floating-ip: 192.0.2.1 given twice',
    );
    assert.equal(
      await run(['--provider', 'linode']),
      "--provider: expected 'digitalocean' or 'hetzner' or 'vultr' or 'aws', got 'linode'",
    );
    assert.equal(await run(['--provider', 'hetzner']), '--provider needs --floating-ip');
  });
});
