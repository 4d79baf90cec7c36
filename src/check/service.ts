import type { CheckContext } from './context.js';
import { checkObject } from './objects.js';
import { rateLimitLine, scopesLine, webhookLine, type GrantedScopeOf } from './lines.js';
import { CheckProbe, worst, type CheckLine, type CheckStatus } from './probe.js';

/**
 * The instance check (POST /instances/:id/check): with the instance's own credentials, against the
 * real provider, line by line — credentials, scopes, each object's first page, the webhook
 * registration (webhook mode), rate-limit headroom. Read-only: it writes no event, notification,
 * snapshot or watermark and changes no poll schedule; its provider calls go through the one call
 * path, so they draw from the provider's rate budget like any other (and an OAuth token due for a
 * refresh is refreshed, as for any call).
 */
export interface CheckReport {
  instanceId: number;
  elementKey: string;
  checkedAt: string;
  /** True when no line failed. */
  ok: boolean;
  status: CheckStatus;
  checks: CheckLine[];
}

export type InstanceCheck = (instanceId: number) => Promise<CheckReport>;

export function createInstanceCheck(ctx: CheckContext, grantedScopeOf: GrantedScopeOf): InstanceCheck {
  return async (instanceId) => {
    const instance = await ctx.instances.require(instanceId);
    const connector = ctx.instances.connectorOf(instance);
    const now = ctx.clock.now();
    const report = (checks: CheckLine[]): CheckReport => {
      const status = worst(checks);
      ctx.log.info({ instanceId, status, failed: checks.filter((c) => c.status === 'failed').map((c) => c.name) }, 'instance checked');
      return { instanceId, elementKey: instance.elementKey, checkedAt: new Date(now).toISOString(), ok: status !== 'failed', status, checks };
    };
    if (instance.unreadableSecrets.length > 0) {
      // The credentials cannot be used at all: nothing is sent.
      return report([
        {
          name: 'credentials',
          status: 'failed',
          detail: `${instance.unreadableSecrets.join(', ')} cannot be decrypted with the configured keys; restore the key (security.previousSecretKeys) or PATCH the values again`,
          details: { unreadable: instance.unreadableSecrets },
        },
      ]);
    }
    const settings = ctx.instances.settingsOf(instance);
    const probe = new CheckProbe(ctx, instance);
    const lines: CheckLine[] = [];
    for (const [objectType, config] of Object.entries(settings.pollerConfiguration)) {
      lines.push(await checkObject(ctx.providerCalls, probe, { connector, instance, objectType, config, timeZone: settings.timeZone, now }));
    }
    if (instance.vendorType === 'webhook') lines.push(await webhookLine(ctx, probe, connector, instance));
    return report([probe.credentialsLine(), await scopesLine(connector, instance, grantedScopeOf), ...lines, rateLimitLine(connector, probe.lastHeaders)]);
  };
}
