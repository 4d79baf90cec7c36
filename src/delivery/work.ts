import type { NotificationRow } from '../events/store.js';
import type { InstanceSettings } from '../instances/settings.js';
import type { InstanceService } from '../instances/service.js';
import type { Instance } from '../instances/store.js';
import type { SigningSecret } from './signing.js';

/**
 * What a claimed notification is delivered with: its instance's callback settings and signing
 * secrets, or — for a notification bound to a connect session (a first connect that failed, so no
 * instance exists) — the session's preset configuration read as an instance's would be, signed
 * with the session's own secret (given to the app when it created the session). Null when a
 * session-bound notification can no longer be sent (its session deleted, or its connector gone).
 */
export interface DeliveryWork {
  instance: Instance;
  settings: InstanceSettings;
  signingSecrets: SigningSecret[];
  /** Bound to a connect session: a 410 ends it (there are no instance callbacks to switch off). */
  session: boolean;
}

/** What delivery reads of a connect session (the connect feature's store answers it). */
export interface SessionForDelivery {
  publicId: string;
  elementKeys: string[];
  createdAt: number;
  data: { name?: string; tags: string[]; configuration: Record<string, unknown>; elementKey?: string; signingSecret?: string };
}

export interface WorkDeps {
  instances: Pick<InstanceService, 'forWork' | 'settingsOf'>;
  sessionById: (id: number) => Promise<SessionForDelivery | undefined>;
}

export async function workOf(deps: WorkDeps, row: NotificationRow): Promise<DeliveryWork | null> {
  if (row.instance_id !== null) return { ...(await deps.instances.forWork(row.instance_id)), session: false };
  const session = row.connect_session_id === null ? undefined : await deps.sessionById(row.connect_session_id);
  if (!session?.data.signingSecret) return null;
  const instance: Instance = {
    id: 0,
    elementKey: session.data.elementKey ?? session.elementKeys[0],
    name: session.data.name ?? session.publicId,
    tags: session.data.tags,
    configuration: session.data.configuration,
    vendorType: 'polling',
    eventsEnabled: true,
    callbackDisabled: false,
    webhookToken: null,
    webhookId: null,
    webhookIds: {},
    createdAt: session.createdAt,
    updatedAt: session.createdAt,
    unreadableSecrets: [],
  };
  try {
    const settings = deps.instances.settingsOf(instance);
    return { instance, settings, signingSecrets: [{ secret: session.data.signingSecret, createdAt: session.createdAt, expiresAt: null }], session: true };
  } catch {
    return null;
  }
}
