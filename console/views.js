// The console's pages. Each returns {el, refresh?}: `el` is shown once, `refresh` re-reads the
// live parts (status, events, notifications) every few seconds without touching the forms.
import { api } from './api.js';
import { badge, h, seconds, table, when } from './dom.js';
import { activityChart } from './chart.js';
import { configurationForm } from './configuration.js';

export async function connectorsView() {
  const list = await api('GET', '/elements');
  return {
    el: h('section', {},
      h('h1', {}, 'Connectors'),
      table([
        ['key', (c) => h('a', { href: `#/connectors/${encodeURIComponent(c.key)}` }, c.key)], ['name', (c) => c.name], ['hub', (c) => c.hub], ['event modes', (c) => c.eventModes.join(', ')],
        ['object types', (c) => c.objectTypes.join(', ')], ['kind', (c) => (c.bundled ? 'bundled' : 'custom')],
      ], list, { name: 'connectors', idOf: (c) => c.key })),
  };
}

/** Summary of an instance's status over its object types, for the list. */
function summarize(status) {
  const objects = Object.values(status?.objects ?? {});
  const dates = (k) => objects.map((o) => o[k]).filter(Boolean).sort();
  return {
    lastPoll: dates('lastPollDate').at(-1),
    nextPoll: dates('nextPollDate')[0],
    lag: objects.length ? Math.max(...objects.map((o) => o.lagSeconds ?? 0)) : null,
    failing: objects.some((o) => o.consecutiveFailures > 0),
  };
}

const authBadge = (auth) => (auth ? badge(`${auth.type} ${auth.state}`, auth.state) : '–');

export async function instancesView() {
  const body = h('div', {});
  const refresh = async () => {
    const list = await api('GET', '/instances?pageSize=100');
    const statuses = await Promise.all(list.map((i) => api('GET', `/instances/${i.id}/status`).catch(() => null)));
    body.replaceChildren(table([
      ['id', (r) => h('a', { href: `#/instances/${r.i.id}` }, String(r.i.id))],
      ['name', (r) => h('a', { href: `#/instances/${r.i.id}` }, r.i.name)],
      ['connector', (r) => r.i.element.key],
      ['mode', (r) => r.i.vendorType],
      ['state', (r) => badge(r.i.eventsEnabled ? 'enabled' : 'paused')],
      ['last poll', (r) => when(r.s.lastPoll)],
      ['next poll', (r) => when(r.s.nextPoll)],
      ['lag', (r) => seconds(r.s.lag), 'num'],
      ['health', (r) => (r.s.failing ? badge('failing', 'error') : badge('ok'))],
      ['auth', (r) => authBadge(r.status?.auth)],
    ], list.map((i, n) => ({ i, status: statuses[n], s: summarize(statuses[n]) })), { name: 'instances', idOf: (r) => r.i.id, empty: 'no instances yet' }));
  };
  await refresh();
  return { el: h('section', {}, h('h1', {}, 'Instances'), body), refresh };
}

export async function instanceView(id, notify) {
  let instance = await api('GET', `/instances/${id}`);
  const title = h('h1', {});
  const stateButton = h('button', { type: 'button', 'data-action': 'toggle' });
  const statusBox = h('div', {});
  const eventsBox = h('div', {});
  const notificationsBox = h('div', {});
  const attemptsBox = h('div', {});
  // Webhook mode only: receipts parked after webhooks.maxAttempts, each with a Retry button.
  const receiptsSection = h('section', { hidden: true }, h('h2', {}, 'Failed webhook receipts'));
  const receiptsBox = h('div', {});
  receiptsSection.append(receiptsBox);
  const checkBox = h('div', {});
  const chartBox = h('div', { class: 'chart' });
  const configBox = h('div', {});
  const showConfiguration = async () => configBox.replaceChildren(await configurationForm(instance, notify, async (saved) => {
    instance = saved;
    await showConfiguration();
    await refresh();
  }));

  const showHeader = () => {
    title.replaceChildren(`${instance.name} `, h('span', { class: 'muted' }, `#${instance.id} · ${instance.element.key} · ${instance.vendorType} `), badge(instance.eventsEnabled ? 'enabled' : 'paused'));
    stateButton.textContent = instance.eventsEnabled ? 'Pause' : 'Resume';
  };

  const pollNow = h('button', { type: 'button', 'data-action': 'poll', onclick: async () => {
    const answer = await api('POST', `/instances/${id}/events/poll`);
    notify(`Polled: ${Object.entries(answer.objects).map(([t, s]) => (s.error ? `${t} failed: ${s.error}` : `${t} fetched ${s.fetched}, created ${s.created}, updated ${s.updated}, deleted ${s.deleted}`)).join('; ')}`);
    await refresh();
  } }, 'Poll now');

  // A live, read-only check against the provider: one row per line (credentials, scopes, objects, webhook, rate limit).
  const checkNow = h('button', { type: 'button', 'data-action': 'check', onclick: async () => {
    checkBox.replaceChildren(h('p', { class: 'muted' }, 'Checking…'));
    const report = await api('POST', `/instances/${id}/check`);
    checkBox.replaceChildren(
      h('h2', {}, 'Check ', badge(report.status), h('span', { class: 'muted' }, ` ${when(report.checkedAt)}`)),
      table([['check', (c) => c.name], ['status', (c) => badge(c.status)], ['detail', (c) => c.detail]], report.checks, { name: 'check', idOf: (c) => c.name }),
    );
    notify(`Checked: ${report.status}`);
  } }, 'Check');

  stateButton.addEventListener('click', async () => {
    instance = await api('PUT', `/instances/${id}/events/enabled`, { enabled: !instance.eventsEnabled });
    showHeader();
    notify(instance.eventsEnabled ? 'Resumed' : 'Paused');
    await refresh();
  });

  const interval = h('input', { name: 'interval', size: 6, value: instance.configuration['event.poller.refresh_interval'] ?? '' });
  const intervalForm = h('form', { 'data-form': 'interval', onsubmit: async (e) => {
    e.preventDefault();
    instance = await api('PATCH', `/instances/${id}`, { configuration: { 'event.poller.refresh_interval': interval.value.trim() } });
    notify(`Interval set to ${interval.value.trim()} minutes`);
    await refresh();
  } }, h('label', {}, 'Interval (minutes) ', interval), h('button', {}, 'Save'));

  const since = h('input', { name: 'since', size: 22, value: new Date(Date.now() - 86_400_000).toISOString().slice(0, 19) + 'Z' });
  const replayForm = h('form', { 'data-form': 'replay', onsubmit: async (e) => {
    e.preventDefault();
    const r = await api('POST', `/instances/${id}/notifications/replay`, { since: since.value.trim() });
    notify(`${r.replayed} notification(s) queued for delivery again`);
    await refresh();
  } }, h('label', {}, 'Replay since ', since), h('button', {}, 'Replay'));

  const showAttempts = async (ntfId) => {
    const n = await api('GET', `/notifications/${encodeURIComponent(ntfId)}`);
    attemptsBox.replaceChildren(h('h2', {}, `Attempts of ${n.id}`), table([
      ['date', (a) => when(a.date)], ['status', (a) => a.statusCode], ['duration', (a) => `${a.durationMs} ms`, 'num'], ['error', (a) => a.error], ['node', (a) => a.node],
    ], n.attempts, { name: 'attempts', empty: 'no attempt yet' }));
  };

  async function refresh() {
    const webhooks = instance.vendorType === 'webhook';
    const [status, events, notifications, failedReceipts, activity] = await Promise.all([
      api('GET', `/instances/${id}/status`),
      api('GET', `/instances/${id}/events?pageSize=50`),
      api('GET', `/instances/${id}/notifications?pageSize=50`),
      webhooks ? api('GET', `/instances/${id}/webhooks/receipts?status=failed&pageSize=50`) : [],
      api('GET', `/instances/${id}/activity`),
    ]);
    chartBox.replaceChildren(activityChart(activity));
    receiptsSection.hidden = !webhooks;
    receiptsBox.replaceChildren(table([
      ['id', (r) => r.id, 'num'], ['received', (r) => when(r.receivedDate)], ['delivery id', (r) => r.deliveryId], ['attempts', (r) => r.attempts, 'num'],
      ['last error', (r) => r.reason],
      ['', (r) => h('button', { type: 'button', 'data-action': 'retry-receipt', onclick: async () => {
        await api('POST', `/instances/${id}/webhooks/receipts/${r.id}/retry`);
        notify(`Webhook receipt ${r.id} queued for mapping again`);
        await refresh();
      } }, 'Retry')],
    ], failedReceipts, { name: 'failed-receipts', idOf: (r) => r.id, empty: 'no failed receipts' }));
    const auth = status.auth;
    statusBox.replaceChildren(
      ...(auth ? [h('p', { 'data-auth': auth.state }, 'Auth: ', authBadge(auth), auth.expiresAt ? ` · expires ${when(auth.expiresAt)}` : '', auth.lastRefreshAt ? ` · refreshed ${when(auth.lastRefreshAt)}` : '', auth.lastError ? ` · ${auth.lastError}` : '')] : []),
      h('p', {}, `Notifications: ${status.notifications.pending} pending, ${status.notifications.dead} dead`),
      table([
        ['object type', ([t]) => t], ['interval', ([, o]) => seconds(o.intervalSeconds), 'num'], ['last poll', ([, o]) => when(o.lastPollDate)],
        ['next poll', ([, o]) => when(o.nextPollDate)], ['lag', ([, o]) => seconds(o.lagSeconds), 'num'], ['fetched', ([, o]) => o.fetched, 'num'],
        ['failures', ([, o]) => o.consecutiveFailures, 'num'], ['backoff until', ([, o]) => when(o.backoffUntil)], ['last error', ([, o]) => o.lastError],
      ], Object.entries(status.objects), { name: 'status', idOf: ([t]) => t, empty: 'this instance does not poll' }),
    );
    eventsBox.replaceChildren(table([
      ['#', (e) => e.sequence, 'num'], ['event', (e) => badge(e.eventType, 'event')], ['object', (e) => `${e.objectType}/${e.objectId}`],
      ['date', (e) => when(e.date)], ['recorded', (e) => when(e.createdDate)], ['notification', (e) => (e.notification ? badge(e.notification.status) : '–')],
    ], events, { name: 'events', idOf: (e) => e.id, empty: 'no events yet' }));
    notificationsBox.replaceChildren(table([
      ['id', (n) => n.id], ['status', (n) => badge(n.status)], ['object type', (n) => n.objectType], ['events', (n) => n.eventCount, 'num'],
      ['attempts', (n) => n.attemptCount, 'num'], ['last code', (n) => n.lastStatusCode], ['created', (n) => when(n.createdDate)],
      ['delivered', (n) => when(n.deliveredDate)], ['last error', (n) => n.lastError],
      ['', (n) => h('span', {},
        h('button', { type: 'button', 'data-action': 'retry', onclick: async () => {
          await api('POST', `/notifications/${encodeURIComponent(n.id)}/retry`);
          notify(`Notification ${n.id} queued for delivery again`);
          await refresh();
        } }, 'Retry'), ' ',
        h('button', { type: 'button', 'data-action': 'attempts', onclick: () => showAttempts(n.id) }, 'Attempts'))],
    ], notifications, { name: 'notifications', idOf: (n) => n.id, empty: 'no notifications yet' }));
  }

  showHeader();
  await showConfiguration();
  await refresh();
  return {
    el: h('section', {}, h('p', {}, h('a', { href: '#/instances' }, '← Instances')), title,
      h('div', { class: 'actions' }, pollNow, checkNow, stateButton, intervalForm, replayForm), checkBox,
      h('h2', {}, 'Activity (last 24 hours)'), chartBox, h('h2', {}, 'Status'), statusBox, h('h2', {}, 'Configuration'), configBox, receiptsSection, h('h2', {}, 'Events (live)'), eventsBox, h('h2', {}, 'Notifications'), notificationsBox, attemptsBox),
    refresh,
  };
}
