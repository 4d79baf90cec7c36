import { EmulatedProvider } from '../test/providers/provider-server.js';

/**
 * The emulated provider of the poll scenario in a process of its own, so that serving pages does
 * not take CPU from the gateway (or the floor) being measured. Seeds `count` contacts stamped
 * `at` (epoch ms); prints one JSON line {url}; changes arrive as HTTP PATCHes like any client's.
 */
const [count, at] = process.argv.slice(2).map(Number);
const provider = await EmulatedProvider.start();
provider.recordRequests = false;
provider.now = () => at;
provider.collection('contacts').seed(count, (i) => ({ name: `contact ${i}`, email: `c${i}@example.com`, score: i % 97, tags: ['a', 'b'] }), at);
console.log(JSON.stringify({ url: provider.url }));
process.on('SIGTERM', () => void provider.close().then(() => process.exit(0)));
