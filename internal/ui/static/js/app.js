// app.js: boots the UI: identity (self-declared or signed in), theme, and the router
// that mounts views.

import { getUser, setUser } from './api.js';
import { setupSession } from './session.js';
import { h, replace } from './dom.js';
import { executionsView } from './views/executions.js';
import { executionView } from './views/execution.js';
import { reportView } from './views/report.js';
import { workflowsView, workflowView } from './views/workflows.js';
import { runView } from './views/run.js';
import { environmentsView } from './views/environments.js';
import { workflowNewView, workflowEditView } from './views/builder.js';
import { environmentNewView, environmentEditView } from './views/builder-env.js';
import { pipelinesView, pipelineRunView } from './views/pipelines.js';
import { servicesView, serviceView } from './views/services.js';
import { auditView } from './views/audit.js';
import { setPageTitle, watchApprovals } from './attention.js';
import { showAdminNav } from './session.js';

const routes = [
  [/^\/(?:executions)?$/, executionsView, 'executions'],
  [/^\/executions\/([^/]+)$/, executionView, 'executions'],
  [/^\/executions\/([^/]+)\/report$/, reportView, 'executions'],
  [/^\/workflows$/, workflowsView, 'workflows'],
  [/^\/workflows\/new$/, workflowNewView, 'workflows'],
  [/^\/workflows\/([^/]+)\/edit$/, workflowEditView, 'workflows'],
  [/^\/environments\/new$/, environmentNewView, 'environments'],
  [/^\/environments\/([^/]+)\/edit$/, environmentEditView, 'environments'],
  [/^\/workflows\/([^/]+)$/, workflowView, 'workflows'],
  [/^\/workflows\/([^/]+)\/run$/, runView, 'workflows'],
  [/^\/environments$/, environmentsView, 'environments'],
  [/^\/pipelines$/, pipelinesView, 'pipelines'],
  [/^\/pipelines\/runs\/([^/]+)$/, pipelineRunView, 'pipelines'],
  [/^\/services$/, servicesView, 'services'],
  [/^\/services\/([^/]+)\/([^/]+)$/, serviceView, 'services'],
  [/^\/audit$/, auditView, 'audit'],
];

// pageTitles name each page in the tab's title; a view may name it more precisely.
const pageTitles = {
  executions: 'Executions', workflows: 'Workflows', environments: 'Environments', services: 'Services', pipelines: 'Pipelines', audit: 'Audit log',
};

let unmount = () => {};

/** navigate shows another page without reloading. */
export function navigate(path, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function render() {
  unmount();
  unmount = () => {};
  const root = document.getElementById('view');
  const path = location.pathname.replace(/\/+$/, '') || '/';
  for (const [re, view, nav] of routes) {
    const m = path.match(re);
    if (!m) continue;
    markNav(nav);
    setPageTitle(pageTitles[nav] || nav);
    const params = m.slice(1).map(decodeURIComponent);
    const ctx = { root, params, query: new URLSearchParams(location.search), navigate };
    unmount = view(ctx) || (() => {});
    return;
  }
  markNav('');
  setPageTitle('Not found');
  replace(root, h('section', { class: 'page' }, h('h1', {}, 'Not found'),
    h('p', {}, 'No page at ', h('code', {}, location.pathname), '.')));
}

function markNav(active) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// Same-origin links navigate in place; modified clicks open tabs as usual.
function onClick(e) {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
}

function setupUser() {
  const input = document.getElementById('user');
  input.value = getUser();
  input.addEventListener('change', () => {
    setUser(input.value);
    window.dispatchEvent(new Event('sluice-user'));
  });
}

function setupTheme() {
  const btn = document.getElementById('theme');
  const stored = localStorage.getItem('sluice.theme');
  if (stored) document.documentElement.dataset.theme = stored;
  const current = () => document.documentElement.dataset.theme
    || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const label = () => { btn.textContent = current() === 'dark' ? '☀' : '☾'; };
  btn.addEventListener('click', () => {
    const next = current() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    localStorage.setItem('sluice.theme', next);
    label();
    window.dispatchEvent(new Event('sluice-theme'));
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', label);
  label();
}

setupUser();
setupTheme();
setupSession({ onSignedIn: render });
watchApprovals();
window.addEventListener('sluice-user', showAdminNav);
document.addEventListener('click', onClick);
window.addEventListener('popstate', render);
render();
