import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_TERM } from '../core/codec.ts';
import type { PersistedState } from '../core/voter.ts';
import { StateError } from '../errors.ts';

/**
 * The `stateDir` file: the highest term this node ever granted, so terms never go backwards across restarts.
 * Written atomically (temp file, fsync, rename) before the vote it records is sent.
 * @module
 */
export class StateFile {
  readonly path: string;

  constructor(
    private readonly dir: string,
    private readonly nodeId: number,
  ) {
    this.path = join(dir, `leader-ip-node-${nodeId}.json`);
  }

  /** Reads the state; undefined when there is none yet. A corrupt file is an error, not a fresh start. */
  load(): PersistedState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateError(`cannot read state file ${this.path}: ${(error as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new StateError(`state file ${this.path} is not valid JSON; restore it or delete it knowingly`);
    }
    const record = data as Record<string, unknown>;
    if (
      typeof data !== 'object' ||
      data === null ||
      record.nodeId !== this.nodeId ||
      !Number.isSafeInteger(record.highestTerm) ||
      (record.highestTerm as number) < 0 ||
      (record.highestTerm as number) > MAX_TERM ||
      !Number.isSafeInteger(record.highestTermHolder)
    ) {
      throw new StateError(`state file ${this.path} is malformed or belongs to another node ID`);
    }
    return { highestTerm: record.highestTerm as number, highestTermHolder: record.highestTermHolder as number };
  }

  save(state: PersistedState): void {
    mkdirSync(this.dir, { recursive: true });
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ nodeId: this.nodeId, ...state }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
  }
}
