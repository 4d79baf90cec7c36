import { ManualClock } from '../../src/clock.js';
import { startGateway } from '../helpers/gateway.js';
import type { CatalogGateway } from './catalog.js';

/**
 * A gateway whose waits pass on its manual clock: emulators that count a provider's calls per
 * window by that clock (HubSpot's searches per second, Freshdesk's list calls per minute) answer
 * 429 past the limit, and polls are shown to get through it. (Waits of objects polled side by side
 * add up on the one clock, so this shows that limits are got through, not how closely pollgate
 * paces its calls.)
 */
export async function startPacedGateway(): Promise<CatalogGateway> {
  const clock = new ManualClock();
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.advance(ms);
  };
  return Object.assign(await startGateway({ clock, options: { sleep } }), { sleeps });
}
