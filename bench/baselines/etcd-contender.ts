/**
 * One etcd election contender (child process of `bench/baselines/etcd.ts`): campaigns with npm `etcd3`'s
 * `Election`, reports `ready` / `elected` on the shared clock, and on SIGTERM resigns (revokes its lease, which
 * deletes its key and wakes the next contender) before exiting.
 *
 * Usage: node --import tsx bench/baselines/etcd-contender.ts --endpoint http://127.0.0.1:P --election NAME --ttl S --id ID
 */
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { emit, exitWithParent, fail } from '../lib/child.ts';

exitWithParent();

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    election: { type: 'string' },
    ttl: { type: 'string' },
    id: { type: 'string' },
    'report-ttl': { type: 'boolean', default: false },
  },
});
if (!values.endpoint || !values.election || !values.ttl || !values.id) fail('missing --endpoint/--election/--ttl/--id');
const ttl = Number(values.ttl);

const client = new Etcd3({ hosts: values.endpoint });
const election = client.election(values.election, ttl);
const campaign = election.campaign(values.id);
let ready = false;
let elected = false;

async function grantedTtl(): Promise<number | undefined> {
  if (!values['report-ttl']) return undefined;
  // The campaign key ends with the lease id; etcd may grant more than asked (its minimum TTL depends on raft timing).
  const key = await campaign.getCampaignKey();
  const id = key.slice(key.lastIndexOf('/') + 1);
  const res = await client.leaseClient.leaseTimeToLive({ ID: id });
  return Number(res.grantedTTL);
}

const markReady = (): void => {
  if (ready) return;
  ready = true;
  grantedTtl().then(
    (granted) => emit('ready', granted === undefined ? {} : { grantedTtl: granted }),
    (err: unknown) => fail(err),
  );
};

// `_isWaiting` is etcd3's internal signal that our key is written and we are queued behind an earlier one; there is
// no public event for "registered", and the failover loop must not shoot the leader before we are in line.
campaign.on('_isWaiting' as 'elected', markReady);
campaign.on('elected', () => {
  elected = true;
  markReady();
  emit('elected');
});
campaign.on('error', (err: Error) => fail(err));

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  const wasLeader = elected;
  campaign
    .resign()
    .then(() => {
      emit('stopped', { wasLeader });
      client.close();
      process.exit(0);
    })
    .catch((err: unknown) => fail(err));
});
