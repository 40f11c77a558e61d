#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { LeaderIpError, TransportError } from '../errors.ts';
import { DEMO_USAGE, demoCommand } from './demo.ts';
import { UsageError } from './flag-table.ts';
import { RUN_USAGE, runCommand } from './run.ts';
import { STATUS_USAGE, statusCommand } from './status.ts';

/**
 * The `leader-ip` command. Each subcommand lives in its own module; this file only dispatches and turns
 * failures into one readable line and an exit code (2: bad usage or options, 1: anything else).
 */
const USAGE = `Usage: leader-ip <command> [options]

Commands:
  run      run one cluster member (and move a DigitalOcean reserved IP to the leader)
  status   show a running member's state (one started with 'run --http')
  demo     watch a failover on this machine: 3 nodes, a fake DigitalOcean API, no account needed
  help     show this help; 'leader-ip <command> --help' shows a command's options

${RUN_USAGE}

${STATUS_USAGE}

${DEMO_USAGE}`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  run: (args) => runCommand(args),
  status: (args) => statusCommand(args),
  demo: (args) => demoCommand(args),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) throw new UsageError(`unknown command '${name}' (try: leader-ip help)`);
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage =
      error instanceof UsageError ||
      (error instanceof LeaderIpError && error.code === 'ERR_CONFIG') ||
      (error instanceof TransportError && error.reason === 'insecure-refused');
    process.stderr.write(`leader-ip: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
