// services.js: every service and, per service, what is live now (read back from the
// router and the platform by the server), its releases, and a diff of any two.

import { api } from '../api.js';
import { h, replace, badge, slotPill, fmtAgo, fmtDateTime, fmtDuration, link } from '../dom.js';
import { setPageTitle } from '../attention.js';

const enc = encodeURIComponent;

/** servicesView mounts the list of services, refreshed every few seconds. */
export function servicesView({ root }) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('section', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Services')), body));
  const refresh = () => api.services().then((items) => replace(body, servicesTable(items)))
    .catch((err) => replace(body, h('p', { class: 'error' }, err.message)));
  refresh();
  const timer = setInterval(() => { if (!document.hidden) refresh(); }, 5000);
  return () => clearInterval(timer);
}

function servicesTable(items) {
  if (!items.length) return h('p', { class: 'muted' }, 'No service released yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'list', id: 'services' },
    h('thead', {}, h('tr', {}, ['Service', 'Environment', 'Live slot', 'Artifact', 'Instances', 'Traffic', 'Last change']
      .map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, items.map((s) => h('tr', { 'data-service': s.service, 'data-env': s.environment },
      h('td', { 'data-label': 'Service' }, link(`/services/${enc(s.environment)}/${enc(s.service)}`, s.service)),
      h('td', { 'data-label': 'Environment' }, s.environment),
      h('td', { 'data-label': 'Live slot' }, slotPill(s.liveSlot), sourceNote(s.source, s.readBackError)),
      h('td', { 'data-label': 'Artifact' }, h('code', {}, s.artifact || '')),
      h('td', { 'data-label': 'Instances' }, instancesText(s.instances, s.ready)),
      h('td', { 'data-label': 'Traffic' }, weightsText(s.weights)),
      h('td', { 'data-label': 'Last change' }, s.executionId ? link(`/executions/${enc(s.executionId)}`, fmtAgo(s.updatedAt)) : fmtAgo(s.updatedAt)))))));
}

function instancesText(desired, ready) {
  return ready === undefined || ready === null ? String(desired ?? '') : `${ready}/${desired} ready`;
}

function weightsText(w) {
  return w ? `green ${w.green}% · blue ${w.blue}%` : h('span', { class: 'muted' }, 'not read');
}

// sourceNote says when the live slot is the stored record rather than a read-back.
function sourceNote(source, error) {
  if (source !== 'record') return null;
  return h('span', { class: 'small muted source-note', title: error || '' }, ' (last record: the router could not be read)');
}

/** serviceView mounts one service: live now, its releases and a diff of two of them. */
export function serviceView({ root, params }) {
  const [env, name] = params;
  setPageTitle(`${name} in ${env}`);
  const live = h('section', { class: 'card', id: 'service-live', 'aria-labelledby': 'live-h' }, h('p', { class: 'muted' }, 'Loading…'));
  const history = h('section', { class: 'card', id: 'service-history', 'aria-labelledby': 'history-h' });
  const diff = h('section', { class: 'card', id: 'release-diff', 'aria-live': 'polite', hidden: true });
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, name, h('span', { class: 'muted' }, ` in ${env}`)),
      link('/services', 'All services')),
    h('div', { class: 'stack' }, live, history, diff)));
  const picked = [];
  let releases = [];
  const refresh = async () => {
    try {
      const d = await api.service(env, name);
      releases = d.releases;
      replace(live, liveCard(d));
      replace(history, historyTable(d.releases, picked, () => showDiff(diff, releases, picked)));
    } catch (err) {
      replace(live, h('p', { class: 'error' }, err.message));
    }
  };
  refresh();
  const timer = setInterval(() => { if (!document.hidden) refresh(); }, 4000);
  return () => clearInterval(timer);
}

function liveCard(d) {
  const v = d.live;
  return [
    h('h2', { id: 'live-h' }, 'Live now'),
    h('p', { class: 'live-line' }, h('span', { id: 'service-live-slot', 'data-slot': v.slot || '' }, slotPill(v.slot, 'Live')),
      ' ', h('code', { id: 'service-live-artifact' }, v.artifact || ''), ' · ', instancesText(v.instances, v.source === 'router' ? v.ready : null)),
    v.source === 'router'
      ? h('p', { class: 'small muted' }, 'Read back from the router and the platform just now.')
      : h('p', { class: 'small warn-text', role: 'note' }, 'Showing the last recorded state: the router or platform could not be read',
        v.error ? `: ${v.error}` : '.'),
    v.weights ? weightsBar(v.weights) : null,
    v.slots ? h('table', { class: 'list compact', id: 'service-slots' },
      h('caption', { class: 'sr-only' }, 'Each slot as the router and the platform report it'),
      h('thead', {}, h('tr', {}, ['Slot', 'Traffic', 'Artifact', 'Instances'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, v.slots.map((s) => h('tr', { 'data-slot': s.slot },
        h('td', { 'data-label': 'Slot' }, slotPill(s.slot)),
        h('td', { 'data-label': 'Traffic' }, `${s.weight}%`),
        h('td', { 'data-label': 'Artifact' }, h('code', {}, s.artifact || '—')),
        h('td', { 'data-label': 'Instances' }, `${s.ready}/${s.desired} ready`))))) : null,
  ];
}

// weightsBar draws the split, with the same numbers as text for assistive technology.
function weightsBar(w) {
  const label = `Traffic: green ${w.green}%, blue ${w.blue}%`;
  const green = h('span', { class: 'wb-green' });
  const blue = h('span', { class: 'wb-blue' });
  green.style.width = `${w.green}%`; // through the CSSOM: the CSP forbids style attributes
  blue.style.width = `${w.blue}%`;
  return h('div', { class: 'weights-bar', role: 'img', 'aria-label': label, title: label }, green, blue);
}

function historyTable(releases, picked, onPick) {
  if (!releases.length) return [h('h2', { id: 'history-h' }, 'Releases'), h('p', { class: 'muted' }, 'No releases yet.')];
  const box = (r) => h('input', {
    type: 'checkbox', class: 'pick', 'data-id': r.execution, checked: picked.includes(r.execution),
    'aria-label': `Compare ${r.execution}`,
    onchange: (e) => {
      const i = picked.indexOf(r.execution);
      if (e.target.checked && i < 0) picked.push(r.execution);
      if (!e.target.checked && i >= 0) picked.splice(i, 1);
      while (picked.length > 2) picked.shift();
      for (const el of e.target.closest('table').querySelectorAll('input.pick')) el.checked = picked.includes(el.dataset.id);
      onPick();
    },
  });
  return [
    h('h2', { id: 'history-h' }, 'Releases'),
    h('p', { class: 'small muted' }, 'Tick two releases to compare their artifact, variables and workflow version.'),
    h('div', { class: 'table-scroll' }, h('table', { class: 'list compact', id: 'releases' },
      h('thead', {}, h('tr', {}, ['', 'Execution', 'Artifact', 'Workflow', 'Started by', 'Result', 'Started', 'Duration']
        .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, releases.map((r) => h('tr', { 'data-id': r.execution },
        h('td', {}, box(r)),
        h('td', { 'data-label': 'Execution' }, link(`/executions/${enc(r.execution)}`, h('code', {}, r.execution))),
        h('td', { 'data-label': 'Artifact' }, h('code', {}, r.artifact || '')),
        h('td', { 'data-label': 'Workflow' }, `${r.workflow} v${r.workflowVersion}`),
        h('td', { 'data-label': 'Started by' }, r.startedBy || 'anonymous'),
        h('td', { 'data-label': 'Result' }, badge(r.status), r.promoted && r.status === 'succeeded' ? h('span', { class: 'small muted' }, ' promoted') : null),
        h('td', { 'data-label': 'Started', title: r.createdAt }, fmtDateTime(r.createdAt)),
        h('td', { 'data-label': 'Duration' }, fmtDuration(r.durationMs), r.endedAt ? null : h('span', { class: 'small muted' }, ' so far'))))))),
  ];
}

// showDiff compares the two picked releases, older first.
function showDiff(el, releases, picked) {
  if (picked.length < 2) { el.hidden = true; return; }
  const [a, b] = picked.map((id) => releases.find((r) => r.execution === id))
    .sort((x, y) => new Date(x.createdAt) - new Date(y.createdAt));
  if (!a || !b) { el.hidden = true; return; }
  const rows = [['Artifact', a.artifact || '', b.artifact || ''],
    ['Workflow', `${a.workflow} v${a.workflowVersion}`, `${b.workflow} v${b.workflowVersion}`]];
  const keys = [...new Set([...Object.keys(a.variables || {}), ...Object.keys(b.variables || {})])].sort();
  for (const k of keys) rows.push([`variable ${k}`, (a.variables || {})[k] ?? '(unset)', (b.variables || {})[k] ?? '(unset)']);
  el.hidden = false;
  replace(el, h('h2', {}, 'Compare releases'),
    h('table', { class: 'list compact', id: 'diff-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), h('th', { scope: 'col' }, a.execution), h('th', { scope: 'col' }, b.execution))),
      h('tbody', {}, rows.map(([what, x, y]) => h('tr', { class: x === y ? 'same' : 'changed', 'data-what': what },
        h('th', { scope: 'row' }, what), h('td', {}, h('code', {}, x)),
        h('td', {}, h('code', {}, y), x === y ? h('span', { class: 'sr-only' }, ' (unchanged)') : h('span', { class: 'chg' }, ' changed')))))),
    a.workflowVersion !== b.workflowVersion || a.workflow !== b.workflow
      ? h('p', { class: 'small' }, link(`/workflows/${enc(b.workflow)}?version=${b.workflowVersion}&diff=${a.workflowVersion}`, `Compare the workflow versions v${a.workflowVersion} and v${b.workflowVersion}`))
      : h('p', { class: 'small muted' }, 'Same workflow version.'));
}
