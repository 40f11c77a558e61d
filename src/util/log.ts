import createDebug from 'debug';

/**
 * Returns a `debug` logger under the `leader-ip:` namespace (enable with `DEBUG=leader-ip:*`).
 * Never pass secrets (tokens, cluster secrets) to a logger.
 */
export function logger(name: string): createDebug.Debugger {
  return createDebug(`leader-ip:${name}`);
}
