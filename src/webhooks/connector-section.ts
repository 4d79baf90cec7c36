import type { ConnectorSection, SectionReport } from '../connectors/section.js';
import { escapePointer } from '../connectors/section.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { validateMapping } from '../connectors/event-mapping.js';
import { validateHandshake } from './handshake.js';
import { validateSignatureConfig } from './signatures.js';
import { registrationsOf } from '../connectors/webhook-registrations.js';
import { pollerObjectsFor } from '../connectors/resolve.js';

/**
 * `events.webhook`: its registrations name request templates that exist, their id paths compile,
 * the values saved from a register answer are configuration fields, and its event mapping,
 * signature and handshake are ones ingress can apply.
 */
export const webhookSection: ConnectorSection = {
  name: 'events.webhook',
  validate(def: ConnectorDefinition, report: SectionReport): void {
    const webhook = def.events?.webhook;
    if (def.events?.supported.includes('webhook') && !webhook) report.add('/events/webhook', 'is required when "webhook" is a supported event mode');
    if (!webhook) return;
    if (webhook.registrations && (webhook.register || webhook.deregister || webhook.webhookIdPath)) {
      report.add('/events/webhook/registrations', 'cannot be combined with register, deregister or webhookIdPath: list every registration under registrations');
    }
    const names = new Set<string>();
    (webhook.registrations ?? [webhook]).forEach((registration, i) => {
      const at = webhook.registrations ? `/events/webhook/registrations/${i}` : '/events/webhook';
      const name = (registration as { name?: string }).name;
      if (name !== undefined && names.has(name)) report.add(`${at}/name`, `"${name}" is defined twice`);
      if (name !== undefined) names.add(name);
      for (const key of ['register', 'deregister', 'check'] as const) {
        if (key === 'check' && registration === webhook) continue; // checked once below
        const template = registration[key];
        if (template && !def.requests?.[template]) report.add(`${at}/${key}`, `names request template "${template}", which is not defined under requests`);
      }
      const refresh = (registration as { expiry?: { refresh: string } }).expiry?.refresh;
      if (refresh && !def.requests?.[refresh]) report.add(`${at}/expiry/refresh`, `names request template "${refresh}", which is not defined under requests`);
      if (registration.deregister && !registration.register) report.add(`${at}/register`, 'is required with deregister');
      if (registration.deregister && !registration.webhookIdPath)
        report.add(`${at}/webhookIdPath`, 'is required with deregister: the id found there in the register answer is what deregister is given');
      const idPaths = registration.webhookIdPath;
      if (Array.isArray(idPaths)) idPaths.forEach((path, j) => report.path(`${at}/webhookIdPath/${j}`, path));
      else report.path(`${at}/webhookIdPath`, idPaths);
      report.path(`${at}/checkIdsPath`, registration.checkIdsPath);
      if (registration.checkIdsPath && !(registration.check ?? webhook.check)) report.add(`${at}/check`, 'is required with checkIdsPath');
      const pattern = registration.webhookIdPattern;
      if (pattern !== undefined) report.check(`${at}/webhookIdPattern`, () => void new RegExp(pattern));
    });
    if (webhook.check && !def.requests?.[webhook.check])
      report.add('/events/webhook/check', `names request template "${webhook.check}", which is not defined under requests`);
    if (webhook.registrations) {
      report.path('/events/webhook/checkIdsPath', webhook.checkIdsPath);
      if (webhook.checkIdsPath && !webhook.check) report.add('/events/webhook/check', 'is required with checkIdsPath');
    }
    for (const [key, path] of Object.entries(webhook.saveFromResponse ?? {})) {
      const field = `/events/webhook/saveFromResponse/${escapePointer(key)}`;
      if (!report.fields.has(key)) report.add(field, `names "${key}", which is not a configuration field of this connector`);
      report.path(field, path);
    }
    report.path('/events/webhook/deliveryIdPath', webhook.deliveryIdPath);
    if (webhook.deliveryIdPath && webhook.deliveryIdHeader)
      report.add('/events/webhook/deliveryIdPath', 'cannot be combined with deliveryIdHeader: a delivery has one id, in a header or in the body');
    if (webhook.events) report.check('/events/webhook/events', () => validateMapping(webhook.events!));
    const polled = webhook.poller ? 'events.webhook.poller' : 'events.poller';
    webhook.pollOnNotification?.forEach((objectType, i) => {
      if (!Object.hasOwn(pollerObjectsFor(def, 'webhook'), objectType))
        report.add(`/events/webhook/pollOnNotification/${i}`, `names "${objectType}", which is not an object of ${polled}`);
    });
    if (webhook.signature) {
      report.check('/events/webhook/signature', () => validateSignatureConfig(webhook.signature!));
      report.strings('/events/webhook/signature/secret', webhook.signature.secret);
    }
    if (webhook.signatures && webhook.signature)
      report.add('/events/webhook/signatures', 'cannot be combined with signature: list every alternative under signatures');
    webhook.signatures?.forEach((alternative, i) => {
      report.check(`/events/webhook/signatures/${i}`, () => validateSignatureConfig(alternative));
      report.strings(`/events/webhook/signatures/${i}/secret`, alternative.secret);
    });
    const fetch = webhook.events?.fetch;
    if (fetch) {
      const named = typeof fetch.request === 'string' ? { '': fetch.request } : (fetch.request ?? {});
      for (const [objectType, request] of Object.entries(named)) {
        const at = `/events/webhook/events/fetch/request${objectType ? `/${escapePointer(objectType)}` : ''}`;
        if (!def.requests?.[request]) report.add(at, `names request template "${request}", which is not defined under requests`);
      }
      for (const [key, path] of Object.entries(fetch.context ?? {})) report.path(`/events/webhook/events/fetch/context/${escapePointer(key)}`, path);
    }
    if (webhook.itemSecret) {
      report.path('/events/webhook/itemSecret/path', webhook.itemSecret.path);
      report.strings('/events/webhook/itemSecret/secret', webhook.itemSecret.secret);
    }
    if (webhook.lifecycle) {
      report.path('/events/webhook/lifecycle/from', webhook.lifecycle.from);
      report.path('/events/webhook/lifecycle/subscriptionIdPath', webhook.lifecycle.subscriptionIdPath);
      const renews = Object.values(webhook.lifecycle.actions ?? {}).some((a) => a === 'renew' || a === 'recreate');
      if (renews && !registrationsOf(def).some((r) => r.expiry))
        report.add('/events/webhook/lifecycle/actions', 'renew and recreate need a registration with expiry (the refresh loop does them)');
    }
    if (webhook.handshake) {
      const fields = webhook.handshake.type === 'echo-query' ? ['type', 'param'] : ['type', 'challengePath', 'when'];
      for (const key of Object.keys(webhook.handshake))
        if (!fields.includes(key)) report.add(`/events/webhook/handshake/${key}`, `is not a field of the "${webhook.handshake.type}" handshake`);
      report.check('/events/webhook/handshake', () => validateHandshake(webhook.handshake));
    }
  },
};
