import { pollScenario } from './poll.js';
import { fullListingScenario } from './full-listing.js';
import { ingressScenario } from './ingress.js';
import { deliveryScenario } from './delivery.js';
import { schedulerScenario } from './scheduler.js';
import { capacityScenario, clusterScenario } from './scheduling.js';
import { slowlorisScenario } from './slowloris.js';
import { draftScenario } from './draft.js';
import { clientsScenario } from './clients.js';
import { clusterWebhookLatencyScenario, pollLatencyScenario, webhookLatencyScenario } from './latency.js';

/**
 * Runs one scenario in this (fresh) process and prints its results as one JSON line, so that
 * memory and CPU figures are not skewed by the scenarios before it. Used by run.ts.
 */
const [name, database, ...args] = process.argv.slice(2);
const n = args.map(Number);
const db = database as 'sqlite' | 'postgres';
const run: Record<string, () => Promise<unknown>> = {
  poll: () => pollScenario(db, n[0]),
  'full-listing': () => fullListingScenario(db, n[0]),
  ingress: () => ingressScenario(db, n[0]),
  'ingress-delivery': () => ingressScenario(db, n[0], true),
  delivery: () => deliveryScenario(db, n[0]),
  scheduler: () => schedulerScenario(n[0], n[1], n[2]),
  capacity: () => capacityScenario(n[0], n[1], n[2]),
  cluster: () => clusterScenario(n[0], n[1], n[2], n[3]),
  slowloris: () => slowlorisScenario(db, n[0], n[1], n[2]),
  draft: () => draftScenario(),
  clients: () => clientsScenario(n[0]),
  'latency-webhooks': () => webhookLatencyScenario(n[0], n[1]),
  'latency-poll': () => pollLatencyScenario(n[0], n[1]),
  'latency-cluster': () => clusterWebhookLatencyScenario(n[0], n[1]),
};
if (!run[name]) throw new Error(`unknown scenario ${name}`);
console.log(JSON.stringify(await run[name]()));
process.exit(0);
