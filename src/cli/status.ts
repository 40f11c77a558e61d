import { intFlag, parseFlags, stringFlag, UsageError } from './flags.ts';
import type { StatusDocument } from './http-status.ts';

export const STATUS_USAGE = `Usage: leader-ip status --url HOST:PORT [--json]

Asks a node started with 'leader-ip run --http HOST:PORT' for its state and prints it.
Exit code 0 when the node answered, 1 when it could not be reached.

  --url URL              the node's status address: HOST:PORT or http://HOST:PORT[/status]
  --timeout-ms N         give up after N ms (default 3000)
  --json                 print the raw JSON document
  --help`;

const FLAGS = {
  url: { type: 'string' },
  'timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Runs `leader-ip status`; resolves with the exit code. */
export async function statusCommand(
  args: string[],
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  if (flags.help) {
    out(`${STATUS_USAGE}\n`);
    return 0;
  }
  const raw = stringFlag(flags, 'url');
  if (raw === undefined) throw new UsageError('--url is required (the address given to run --http)');
  const url = statusUrl(raw);
  const timeoutMs = intFlag(flags, 'timeout-ms', 1) ?? 3000;
  let document: StatusDocument;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    document = (await response.json()) as StatusDocument;
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describe(error);
    throw new Error(`cannot read ${url}: ${reason}`);
  }
  out(flags.json ? `${JSON.stringify(document, null, 2)}\n` : formatStatus(document));
  return 0;
}

function statusUrl(raw: string): string {
  const withScheme = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--url: not a URL or HOST:PORT: '${raw}'`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/status';
  return url.toString();
}

function describe(error: unknown): string {
  // fetch wraps the reason ('fetch failed'); the useful part (ECONNREFUSED, 'bad port') is its cause.
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** A status document as a few lines a person can read at a glance. */
export function formatStatus(s: StatusDocument): string {
  const lines: string[] = [];
  const majority = Math.floor(s.clusterSize / 2) + 1;
  const role = s.isLeader ? `LEADER, term ${s.term} (lease ${Math.round(s.leaseRemainingMs)} ms left)` : s.role;
  lines.push(`node ${s.id}: ${role}`);
  const address = s.address === null ? 'not listening' : `${hostPort(s.address)}`;
  lines.push(`  state      ${s.state}, ${address}, cluster of ${s.clusterSize} (majority ${majority})`);
  const leader =
    s.leaderId === null ? 'none known' : s.leaderId === s.id ? 'this node' : `node ${s.leaderId} (term ${s.term})`;
  lines.push(`  leader     ${leader}`);
  const readiness = !s.ready ? 'not ready yet (waits one lease after start)' : s.canLead ? 'can lead' : 'cannot lead';
  lines.push(`  this node  ${readiness}; highest term seen ${s.highestTermSeen}`);
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
    const flags = [peer.alive ? 'up' : 'DOWN', peer.ready ? 'ready' : 'not ready', peer.canLead ? 'can lead' : ''];
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
