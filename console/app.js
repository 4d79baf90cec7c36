// The console's shell: sign-in (the token is asked once and kept in sessionStorage), hash routes
// (#/instances, #/instances/:id, #/connectors), a refresh every few seconds, and one place that
// shows errors — a failure is a message on the page, never a blank page.
import { api, token } from './api.js';
import { h } from './dom.js';
import { connectorsView, instanceView, instancesView } from './views.js';
import { connectorView } from './connectors.js';

const REFRESH_MS = 2000;
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const errorBox = document.getElementById('error');
const noticeBox = document.getElementById('notice');
let timer;
let current = 0;

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function notify(message) {
  noticeBox.textContent = message;
  noticeBox.hidden = !message;
}

function login(message) {
  clearInterval(timer);
  nav.hidden = true;
  showError(message ?? '');
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'pg_…', required: true });
  main.replaceChildren(h('form', { class: 'login', 'data-form': 'login', onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api('GET', '/instances?pageSize=1', undefined, input.value.trim());
      token.set(input.value.trim());
      showError('');
      if (!location.hash || location.hash === '#/login') location.hash = '#/instances';
      else void route();
    } catch (err) {
      showError(err.message);
    }
  } }, h('h1', {}, 'Sign in'), h('label', {}, 'API token', input), h('button', {}, 'Sign in')));
  input.focus();
}

async function route() {
  clearInterval(timer);
  if (!token.get()) return login();
  nav.hidden = false;
  const seq = ++current;
  const hash = location.hash || '#/instances';
  const instance = /^#\/instances\/(\d+)$/.exec(hash);
  const connector = /^#\/connectors\/([^/]+)$/.exec(hash);
  try {
    const view = instance
      ? await instanceView(instance[1], notify)
      : connector
        ? await connectorView(decodeURIComponent(connector[1]))
        : hash === '#/connectors'
          ? await connectorsView()
          : await instancesView();
    if (seq !== current) return;
    main.replaceChildren(view.el);
    showError('');
    if (view.refresh) timer = setInterval(() => view.refresh().then(() => showError(''), fail), REFRESH_MS);
  } catch (err) {
    fail(err);
  }
}

function fail(err) {
  if (err.status === 401) {
    token.clear();
    return login(err.message);
  }
  showError(err.message ?? String(err));
}

// Buttons and forms report their own failures here too.
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  fail(e.reason);
});
document.getElementById('sign-out').addEventListener('click', () => {
  token.clear();
  notify('');
  login();
});
window.addEventListener('hashchange', () => {
  notify('');
  void route();
});
// Back from the connect page: the new instance's id (success) or the provider's error in the query.
const back = new URLSearchParams(location.search);
if (back.has('instance_id') || back.has('error')) {
  history.replaceState(null, '', `/console${back.has('instance_id') ? `#/instances/${back.get('instance_id')}` : location.hash}`);
  if (back.has('instance_id')) notify(`Connected: instance ${back.get('instance_id')}`);
  else showError(`Not connected: ${back.get('error')}${back.get('error_description') ? ` (${back.get('error_description')})` : ''}`);
}
void route();
