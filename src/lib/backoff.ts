/**
 * Exponential back-off, the one retry policy of the background loops: `baseSeconds` after the
 * first failure, doubling with each further one, never more than `maxSeconds`. Each loop takes
 * its two figures from settings (`poller.backoff*`, `webhooks.mappingBackoff*`,
 * `webhooks.deregisterBackoff*`).
 */
export function backoffMs(failures: number, baseSeconds: number, maxSeconds: number): number {
  return Math.min(baseSeconds * 1000 * 2 ** Math.max(0, failures - 1), maxSeconds * 1000);
}
