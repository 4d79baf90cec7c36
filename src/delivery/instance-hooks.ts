import type { InstanceHooks } from '../instances/hooks.js';
import { callbackOriginOf } from '../instances/settings.js';
import { CALLBACK_HEADERS, giveAgainProblem, isGiven, secretsToGiveAgain } from '../instances/validation.js';
import { validateCallbackTemplate } from './callback-template.js';
import { newSigningSecret } from './signing.js';

/**
 * Delivery's part of an instance's life: its callback settings are checked, a PATCH that moves the
 * callback to another origin must give the callback's secrets again, and a new instance gets the
 * secret its callbacks are signed with.
 */
export function deliveryInstanceHooks(): InstanceHooks {
  return {
    checkConfiguration({ settings, problems }) {
      if (settings.callback.template) problems.push(...validateCallbackTemplate(settings.callback.template, 'event.notification.callback.template'));
      if (settings.callback.url) problems.push(...validateCallbackTemplate(settings.callback.url, 'event.notification.callback.url'));
    },
    checkChange(change) {
      const { before, after, supplied, problems } = change;
      const origin = (c: Record<string, unknown>) => callbackOriginOf(c) ?? '';
      if (origin(before) === origin(after)) return;
      const where = 'event.notification.callback.url';
      for (const key of secretsToGiveAgain(change, (k) => k.startsWith('event.notification.callback.'))) problems.push(giveAgainProblem(key, where));
      const headers = before[CALLBACK_HEADERS];
      if (headers && typeof headers === 'object' && after[CALLBACK_HEADERS] !== undefined) {
        const sent = supplied[CALLBACK_HEADERS] as Record<string, unknown> | undefined;
        if (!sent || Object.values(sent).some((v) => !isGiven(v))) problems.push(giveAgainProblem(CALLBACK_HEADERS, where));
      }
    },
    async onInstanceWrite(uow, { id, now, change }) {
      if (change.kind === 'created') await uow.instances.setSigningSecrets(id, [{ secret: newSigningSecret(), createdAt: now, expiresAt: null }]);
    },
  };
}
