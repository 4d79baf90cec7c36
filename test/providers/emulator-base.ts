import type { EmulatedProvider } from '../../sandbox/provider-server.js';

/** What every provider emulator built on EmulatedProvider offers: its URL, its clock, close(). */
export abstract class ProviderEmulator {
  protected constructor(readonly provider: EmulatedProvider) {}

  get url(): string {
    return this.provider.url;
  }

  /** The provider's clock (tests point it at the gateway's ManualClock). */
  set now(now: () => number) {
    this.provider.now = now;
  }

  close(): Promise<void> {
    return this.provider.close();
  }
}
