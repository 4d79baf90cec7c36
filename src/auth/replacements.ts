import type { MovedSecrets } from '../connectors/catalog.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import type { InstanceStore } from '../instances/store.js';
import { destinationTemplates, movedDestinations, secretDestinations } from './destinations.js';

/**
 * The connector catalog's replacement guard: the instances whose secrets a replacement of their
 * connector sends elsewhere, each with the destinations that move (all of them when the stored
 * definition no longer validates). `instances` is bound to the replacement's transaction.
 */
export async function secretsMovedByReplacement(
  instances: InstanceStore,
  previous: ConnectorDefinition | undefined,
  next: ConnectorDefinition,
): Promise<MovedSecrets[]> {
  if (previous && destinationTemplates(previous) === destinationTemplates(next)) return [];
  const moved: MovedSecrets[] = [];
  for (const instance of await instances.listByElementKey(next.key)) {
    const after = secretDestinations(next, instance.configuration);
    const destinations = previous ? movedDestinations(secretDestinations(previous, instance.configuration), after) : after;
    if (destinations.length > 0) moved.push({ instanceId: instance.id, destinations: destinations.map((d) => d.name) });
  }
  return moved;
}
