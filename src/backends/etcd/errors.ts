import { LeaderIpError } from '../../errors.ts';

/** What the etcd backend was doing when a request failed. */
export type EtcdOperation = 'connect' | 'read' | 'watch' | 'grant' | 'keepalive' | 'campaign' | 'resign';

/**
 * An etcd request failed (unreachable cluster, timeout, refused credentials, missing `etcd3` package). Emitted as
 * `warning` on the first failure of a streak, and thrown by `start()`. The election retries by itself; a leader whose
 * keep-alives fail stops leading by the safe bound whatever happens here. Never carries credentials.
 */
export class EtcdBackendError extends LeaderIpError {
  /** What was being done. */
  readonly operation: EtcdOperation;
  /** The etcd3 / gRPC error class name (`GRPCUnavailableError`, `GRPCDeadlineExceededError`, ...), if any. */
  readonly etcdCode: string | undefined;
  constructor(operation: EtcdOperation, message: string, options: { cause?: unknown; etcdCode?: string } = {}) {
    super('ERR_ETCD', `etcd ${operation}: ${message}`, { cause: options.cause });
    this.operation = operation;
    this.etcdCode = options.etcdCode;
  }
}

/** Wraps whatever the etcd3 client threw. */
export function toEtcdError(operation: EtcdOperation, cause: unknown): EtcdBackendError {
  if (cause instanceof EtcdBackendError) return cause;
  const name = cause instanceof Error ? cause.constructor.name : undefined;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new EtcdBackendError(operation, message, { cause, ...(name === undefined ? {} : { etcdCode: name }) });
}
