import { ManualClock } from '../../../src/clock.js';
import { startGateway } from '../../helpers/gateway.js';
import type { CatalogGateway } from '../catalog.js';

/**
 * A gateway whose waits pass on its manual clock: the emulator counts HubSpot's searches per second
 * by that clock and answers 429 past four, so the connector's rate budget is tested, not assumed.
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
