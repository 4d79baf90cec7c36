import { authSection } from './auth/connector-section.js';
import type { ConnectorSection } from './connectors/section.js';
import { validateConnector as validateWith } from './connectors/validate.js';
import type { ConnectorDefinition } from './connectors/schema.js';
import { pollerSection } from './poller/connector-section.js';
import { lookupSection } from './requests/connector-section.js';
import { webhookSection } from './webhooks/connector-section.js';

/**
 * The parts of the connector format that features own, each checked by the feature's section
 * (connectors/section.ts). The one list: a feature that adds a part of the format adds its
 * section here; the registry and the CLI's `validate` receive it explicitly.
 */
export const connectorSections: readonly ConnectorSection[] = [authSection, pollerSection, webhookSection, lookupSection];

/** A connector definition checked against the format and every section (DefinitionError naming `source` otherwise). */
export function validateConnector(input: unknown, source: string): ConnectorDefinition {
  return validateWith(input, source, connectorSections);
}
