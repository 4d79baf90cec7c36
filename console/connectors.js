// The connector page: what a connector reads (objects), how it authenticates, its event modes and
// configuration keys, and "New instance", which opens the hosted connect page (the same flow an
// app's end users get) and comes back to the new instance's page.
import { api } from './api.js';
import { h, table } from './dom.js';

const authTypes = (auth) => (Array.isArray(auth) ? auth : auth ? [auth] : []).map((a) => a.type + (a.when ? ` (when ${[].concat(a.when).join(', ')})` : ''));

export async function connectorView(key) {
  const c = await api('GET', `/elements/${encodeURIComponent(key)}`);
  const def = c.definition;
  const name = h('input', { name: 'name', value: `${def.name} instance`, size: 24 });
  const callback = h('input', { name: 'callback', placeholder: 'https://… (optional)', size: 32 });
  const modes = c.eventModes ?? [];
  const mode = h('select', { name: 'mode' }, modes.map((m) => h('option', { value: m }, m)));
  const interval = h('input', { name: 'interval', value: '15', size: 4 });
  const newInstance = h('form', { 'data-form': 'new-instance', onsubmit: async (e) => {
    e.preventDefault();
    const configuration = { 'event.vendor.type': mode.value };
    if (mode.value === 'polling') configuration['event.poller.refresh_interval'] = interval.value.trim();
    if (callback.value.trim()) configuration['event.notification.callback.url'] = callback.value.trim();
    const session = await api('POST', '/connect/sessions', {
      connector: key, name: name.value.trim(), configuration,
      successUrl: `${location.origin}/console`, errorUrl: `${location.origin}/console`,
    });
    location.assign(session.url);
  } }, h('label', {}, 'Name ', name), h('label', {}, 'Mode ', mode), h('label', {}, 'Interval (minutes) ', interval), h('label', {}, 'Callback URL ', callback), h('button', {}, 'New instance'));
  return {
    el: h('section', {},
      h('p', {}, h('a', { href: '#/connectors' }, '← Connectors')),
      h('h1', {}, `${def.name} `, h('span', { class: 'muted' }, `${def.key} · ${c.bundled ? 'bundled' : 'custom'}`)),
      def.description ? h('p', { 'data-docs': '' }, def.description) : '',
      h('div', { class: 'actions' }, newInstance),
      h('h2', {}, 'Auth'), h('p', { 'data-auth': '' }, authTypes(def.auth).join('; ') || 'none'),
      h('h2', {}, 'Event modes'), h('p', {}, modes.join(', ') || 'none'),
      h('h2', {}, 'Objects'),
      table([['object type', (o) => o]], c.objectTypes ?? [], { name: 'objects', idOf: (o) => o }),
      h('h2', {}, 'Configuration'),
      table([['key', (f) => f.key], ['required', (f) => (f.required ? 'yes' : '')], ['secret', (f) => (f.secret ? 'yes' : '')], ['description', (f) => f.description]],
        def.configuration ?? [], { name: 'configuration', idOf: (f) => f.key })),
  };
}
