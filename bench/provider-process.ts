import { EmulatedProvider } from '../sandbox/provider-server.js';
import { listRecords } from '../sandbox/listing.js';

/**
 * The emulated provider of the poll scenarios in a process of its own, so that serving pages does
 * not take CPU from the gateway (or the floor) being measured. Seeds `count` contacts stamped
 * `at` (epoch ms); prints one JSON line {url}; changes arrive as HTTP PATCHes like any client's.
 *
 * Pages are served from pre-serialised records: each record's JSON is made once (and again only
 * when it changes), so a page costs a join of 100 strings, not a JSON.stringify of 100 objects —
 * the provider must not be what limits the floor or the pipeline measured against it.
 */
const [count, at] = process.argv.slice(2).map(Number);
const provider = await EmulatedProvider.start();
provider.recordRequests = false;
provider.now = () => at;
const contacts = provider.collection('contacts');
contacts.seed(count, (i) => ({ name: `contact ${i}`, email: `c${i}@example.com`, score: i % 97, tags: ['a', 'b'] }), at);
// Records are replaced (new objects) when they change, so a cache keyed by the object never goes stale.
const serialised = new WeakMap<object, string>();
const json = (record: object) => {
  let text = serialised.get(record);
  if (text === undefined) serialised.set(record, (text = JSON.stringify(record)));
  return text;
};
for (const record of contacts.all()) json(record);
provider.inspect = (req) => {
  if (req.method !== 'GET' || req.path !== '/contacts') return undefined;
  const listing = listRecords(contacts, new URL(`${req.path}?${new URLSearchParams(req.query)}`, provider.url));
  if (listing.status !== 200 || !Array.isArray(listing.body)) return listing;
  return { status: 200, headers: listing.headers, body: `[${(listing.body as object[]).map(json).join(',')}]` };
};
console.log(JSON.stringify({ url: provider.url }));
process.on('SIGTERM', () => void provider.close().then(() => process.exit(0)));
