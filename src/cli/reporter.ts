import { LeaderIpError } from '../errors.ts';
import { monotonicMs } from '../util/monotonic.ts';

/**
 * One line per event, readable by a person or (with --json) by a log shipper. JSON lines carry `mono`, the
 * machine-wide monotonic clock in ms (CLOCK_MONOTONIC, the same for every process on the host), so events of
 * several processes can be ordered and subtracted exactly; `time` is wall-clock ISO 8601 for humans.
 */
export type Fields = Record<string, string | number | boolean | null | undefined>;

export class Reporter {
  constructor(
    private readonly json: boolean,
    private readonly label: string,
    private readonly out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  event(event: string, fields: Fields, text: string): void {
    if (this.json) {
      this.out(
        JSON.stringify({ time: new Date().toISOString(), mono: monotonicMs(), node: this.label, event, ...fields }),
      );
    } else {
      this.out(`${new Date().toISOString()} ${this.label}: ${text}`);
    }
  }
}

/** An error's printable fields: message, the library's code, and a transport `reason` when there is one. */
export function errorFields(error: Error): Record<string, string> {
  const fields: Record<string, string> = { message: error.message };
  if (error instanceof LeaderIpError) fields.code = error.code;
  const reason = (error as { reason?: unknown }).reason;
  if (typeof reason === 'string') fields.reason = reason;
  return fields;
}
