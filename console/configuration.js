// The instance's configuration form: one input per key of its connector. Secrets are write-only:
// shown as set (the API answers "********"), never read back; a secret left empty keeps its value.
import { api } from './api.js';
import { h } from './dom.js';

const REDACTED = '********';

export async function configurationForm(instance, notify, onSaved) {
  const connector = await api('GET', `/elements/${encodeURIComponent(instance.element.key)}`);
  const fields = connector.definition.configuration ?? [];
  const inputs = fields.map((f) => {
    const current = instance.configuration[f.key];
    const isSet = current !== undefined && current !== null && current !== '';
    const input = f.secret
      ? h('input', { name: f.key, type: 'password', autocomplete: 'off', placeholder: isSet ? 'set (write-only): type to replace' : 'not set' })
      : h('input', { name: f.key, value: isSet ? String(current) : '' });
    return { f, input, before: f.secret ? '' : isSet ? String(current) : '' };
  });
  return h('form', { 'data-form': 'configuration', class: 'config', onsubmit: async (e) => {
    e.preventDefault();
    const changes = {};
    for (const { f, input, before } of inputs) {
      const value = input.value.trim();
      if (f.secret ? value !== '' && value !== REDACTED : value !== before) changes[f.key] = value === '' ? null : value;
    }
    if (Object.keys(changes).length === 0) return notify('Nothing changed');
    const saved = await api('PATCH', `/instances/${instance.id}`, { configuration: changes });
    for (const { f, input } of inputs) if (f.secret) input.value = '';
    notify(`Configuration saved: ${Object.keys(changes).join(', ')}`);
    await onSaved(saved);
  } },
  inputs.map(({ f, input }) => h('label', { 'data-key': f.key }, h('span', {}, f.key, f.secret ? ' (secret)' : ''), input)),
  h('button', {}, 'Save configuration'));
}
