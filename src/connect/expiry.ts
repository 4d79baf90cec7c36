import { WorkerLoop } from '../lib/worker-loop.js';
import type { ConnectContext } from './context.js';
import type { ConnectFlow } from './flow.js';
import type { ConnectStore } from './store.js';

/** How often expired sessions are looked for. */
const TICK_SECONDS = 60;
/**
 * A session is reported this long after it expired: a user still at the provider when it expires
 * is told so by the callback itself (with the error URL), which the loop must not pre-empt.
 */
export const EXPIRY_GRACE_MS = 5 * 60_000;
/** Sessions failed per pass. */
const BATCH = 100;

/**
 * Abandoned connects (docs/connect.md "Events for the app"): a session the user left unfinished —
 * the page never submitted, or the provider never sent the browser back — fails with `expired` once
 * it is past its expiry, and the app gets CONNECT_FAILED, so it does not wait for a redirect that
 * will never come. Every node may run it: finishing a session is conditional, so each is reported once.
 */
export class ConnectExpiry extends WorkerLoop {
  constructor(
    private readonly ctx: ConnectContext,
    private readonly store: ConnectStore,
    private readonly flow: Pick<ConnectFlow, 'expire'>,
  ) {
    super({ name: 'connect-expiry', tickSeconds: () => TICK_SECONDS, log: ctx.log, metrics: ctx.metrics });
  }

  protected async pass(): Promise<number> {
    let failed = 0;
    for (const session of await this.store.expiredUnfinished(this.ctx.clock.now() - EXPIRY_GRACE_MS, BATCH)) {
      if (this.stopping) break;
      if (await this.flow.expire(session)) failed++;
    }
    return failed;
  }
}
