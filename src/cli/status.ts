import {
  type FlagGroup,
  HELP_FLAG,
  intFlag,
  parseCommandLine,
  renderHelp,
  stringFlag,
  switchFlag,
  UsageError,
} from './flag-table.ts';
import type { EtcdStatusDocument, StatusDocument } from './http-status.ts';

const URL_FLAG = stringFlag({
  name: 'url',
  metavar: 'URL',
  help: "the node's status address: HOST:PORT or http://HOST:PORT[/status]",
});
const TIMEOUT_MS = intFlag({ name: 'timeout-ms', min: 1, help: 'give up after N ms', default: 3000 });
const JSON_FLAG = switchFlag({ name: 'json', help: 'print the raw JSON document' });
const STATUS_FLAGS: readonly FlagGroup[] = [{ title: '', flags: [URL_FLAG, TIMEOUT_MS, JSON_FLAG] }];

export const STATUS_USAGE = `Usage: leader-ip status --url HOST:PORT [--json]

Asks a node started with 'leader-ip run --http HOST:PORT' for its state and prints it.
Exit code 0 when the node answered, 1 when it could not be reached.

${renderHelp(STATUS_FLAGS)}`;

/** Runs `leader-ip status`; resolves with the exit code. */
export async function statusCommand(
  args: string[],
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const flags = parseCommandLine(args, STATUS_FLAGS);
  if (flags.get(HELP_FLAG)) {
    out(`${STATUS_USAGE}\n`);
    return 0;
  }
  const raw = flags.get(URL_FLAG);
  if (raw === undefined) throw new UsageError('--url is required (the address given to run --http)');
  const url = statusUrl(raw);
  const timeoutMs = flags.get(TIMEOUT_MS) as number;
  let body: unknown;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    const text = await response.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!isStatusDocument(body)) {
      throw new NotStatus(`not a leader-ip status endpoint (HTTP ${response.status}, ${describeBody(response, text)})`);
    }
  } catch (error) {
    const reason =
      error instanceof NotStatus
        ? error.message
        : (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : describe(error);
    throw new Error(`cannot read ${url}: ${reason}`);
  }
  out(flags.get(JSON_FLAG) ? `${JSON.stringify(body, null, 2)}\n` : formatStatus(body));
  return 0;
}

class NotStatus extends Error {}

/** Just enough of the document's shape to print it; anything else is some other server. */
function isStatusDocument(value: unknown): value is StatusDocument | EtcdStatusDocument {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.backend === 'etcd') {
    return typeof v.id === 'number' && typeof v.isLeader === 'boolean' && typeof v.term === 'number';
  }
  return (
    typeof v.id === 'number' &&
    typeof v.role === 'string' &&
    typeof v.state === 'string' &&
    typeof v.isLeader === 'boolean' &&
    typeof v.term === 'number' &&
    typeof v.clusterSize === 'number' &&
    Array.isArray(v.peers)
  );
}

function describeBody(response: Response, text: string): string {
  const type = response.headers.get('content-type') ?? 'no content type';
  return text.length === 0 ? `${type}, empty body` : `${type}, ${text.length} bytes`;
}

function statusUrl(raw: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http') {
    throw new UsageError(
      `--url: unsupported scheme '${scheme}:' (leader-ip run --http serves plain http: give HOST:PORT or http://HOST:PORT)`,
    );
  }
  let url: URL;
  try {
    url = new URL(scheme === undefined ? `http://${raw}` : raw);
  } catch {
    throw new UsageError(`--url: not a URL or HOST:PORT: '${raw}'`);
  }
  if (url.port === '' && scheme === undefined) throw new UsageError(`--url: give a port: '${raw}'`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/status';
  return url.toString();
}

function describe(error: unknown): string {
  // fetch wraps the reason ('fetch failed'); the useful part (ECONNREFUSED, 'bad port') is its cause.
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** A status document as a few lines a person can read at a glance. */
export function formatStatus(s: StatusDocument | EtcdStatusDocument): string {
  if ('backend' in s) return formatEtcdStatus(s);
  const lines: string[] = [];
  const majority = Math.floor(s.clusterSize / 2) + 1;
  const role = s.isLeader ? `LEADER, term ${s.term} (lease ${Math.round(s.leaseRemainingMs)} ms left)` : s.role;
  lines.push(`node ${s.id}: ${role}`);
  const address = s.address === null ? 'not listening' : `${hostPort(s.address)}`;
  lines.push(`  state      ${s.state}, ${address}, cluster of ${s.clusterSize} (majority ${majority})`);
  const leader =
    s.leaderId === null ? 'none known' : s.leaderId === s.id ? 'this node' : `node ${s.leaderId} (term ${s.term})`;
  lines.push(`  leader     ${leader}`);
  const readiness = !s.ready
    ? 'not ready yet (waits one lease after start)'
    : s.canLead
      ? 'can lead'
      : `cannot lead${s.cannotLead ? ` (${s.cannotLead})` : ''}`;
  lines.push(`  this node  ${readiness}; highest term seen ${s.highestTermSeen}`);
  if (s.noLeaderReason) lines.push(`  why        ${s.noLeaderReason}`);
  const h = s.health;
  if (h !== undefined) {
    const counts = h.checked
      ? `; check: ${h.consecutiveFailures} failed / ${h.consecutiveSuccesses} passed in a row` +
        (h.lastCheckDurationMs === null ? '' : `, last took ${Math.round(h.lastCheckDurationMs)} ms`)
      : '';
    lines.push(`  health     ${h.healthy ? 'healthy' : `UNHEALTHY: ${h.reason}`}${counts}`);
  }
  if (s.vote !== null) {
    lines.push(`  vote       node ${s.vote.holder}, term ${s.vote.term}, ${Math.round(s.vote.remainingMs)} ms left`);
  }
  if (s.floatingIp !== null && s.floatingIp !== undefined) {
    const ip = s.floatingIp;
    const here =
      ip.assignedTerm === null
        ? 'not assigned by this node since it started'
        : `assigned here for term ${ip.assignedTerm} in ${ip.assignedInMs} ms at ${ip.assignedAt}`;
    lines.push(`  IP         ${ip.ip}: ${here}`);
    if (ip.lastError !== null) lines.push(`             last error ${ip.lastError.code}: ${ip.lastError.message}`);
  }
  const none = s.clusterSize === 1 ? 'none (a cluster of one)' : 'none heard from yet';
  lines.push(`  peers      ${s.peers.length === 0 ? none : ''}`.trimEnd());
  for (const peer of [...s.peers].sort((a, b) => a.id - b.id)) {
    const heard = peer.lastHeardMsAgo === null ? 'never heard' : `heard ${Math.round(peer.lastHeardMsAgo)} ms ago`;
    const flags = [
      peer.alive ? 'up' : 'DOWN',
      peer.ready ? 'ready' : 'not ready',
      peer.canLead ? 'can lead' : '',
      peer.voterOnly ? 'voter-only' : '',
      peer.healthy === false ? 'UNHEALTHY' : '',
    ];
    const sees = peer.sees.length === 0 ? 'sees nobody' : `sees ${peer.sees.join(',')}`;
    lines.push(`    node ${peer.id}  ${flags.filter(Boolean).join(', ')}; ${heard}; ${sees}`);
  }
  const t = s.transport;
  if (t !== null && t !== undefined) {
    const rejected = Object.entries(t.rejected ?? {})
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ');
    lines.push(
      `  transport  ${t.messagesIn} messages in, ${t.messagesOut} out; ${t.handshakesCompleted} handshakes; ` +
        `${t.badFrames} bad frames${rejected === '' ? '' : `; refused: ${rejected}`}`,
    );
  }
  if (s.badMessages > 0) lines.push(`  warning    ${s.badMessages} undecodable messages from authenticated peers`);
  return `${lines.join('\n')}\n`;
}

function hostPort(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The etcd backend's document: the election's key, the leader, the lease, health. */
function formatEtcdStatus(s: EtcdStatusDocument): string {
  const leader = s.isLeader ? 'this node' : s.leaderId === null ? 'none' : `node ${s.leaderId}`;
  const lines = [
    `node ${s.id}: ${s.isLeader ? 'LEADER' : 'not leader'} (etcd backend), term ${s.term}`,
    `  state      ${s.state}, key ${s.key}`,
    `  leader     ${leader}`,
    `  lease      ${s.leaseId ?? 'none'}${s.grantedTtlMs === null ? '' : `, TTL ${s.grantedTtlMs} ms`}${s.isLeader ? `, ${Math.round(s.leaseRemainingMs)} ms left` : ''}; ${s.keepAlives} keep-alives, ${s.failedRequests} failed requests`,
    `  health     ${s.health.healthy ? 'healthy' : `unhealthy: ${s.health.reason}`}${s.voterOnly ? ', voter only' : ''}`,
  ];
  if (s.floatingIp !== null) {
    const ip = s.floatingIp;
    lines.push(`  floating   ${ip.ip}${ip.assignedTerm === null ? '' : `, assigned for term ${ip.assignedTerm}`}`);
  }
  return `${lines.join('\n')}\n`;
}
