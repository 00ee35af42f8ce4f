// executions.js: the list of executions with filters, refreshed every few seconds.

import { api } from '../api.js';
import { h, replace, badge, fmtAgo, fmtDateTime, fmtDuration, slotPill, terminal, link } from '../dom.js';

const statuses = ['pending', 'running', 'waiting', 'paused', 'succeeded', 'failed', 'rolling_back', 'rolled_back', 'aborted'];
const filterNames = ['workflow', 'environment', 'status', 'startedBy'];

/** executionsView mounts the executions list. */
export function executionsView({ root, query, navigate }) {
  const filters = Object.fromEntries(filterNames.map((k) => [k, query.get(k) || '']));
  const tbody = h('tbody');
  const note = h('p', { class: 'muted list-note', role: 'status' });
  const form = filterForm(filters, (f) => navigate('/executions?' + new URLSearchParams(clean(f)), { replace: true }));
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Executions'),
      h('a', { class: 'btn', href: '/workflows' }, 'Run a workflow…')),
    form,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list', id: 'executions' }, tableHead(), tbody)),
    note));
  let stopped = false;
  const refresh = async () => {
    try {
      const items = await api.executions({ ...clean(filters), limit: 200 });
      renderRows(tbody, items);
      replace(note, items.length ? `${items.length} shown · refreshed ${new Date().toLocaleTimeString()}` : 'No executions match.');
    } catch (err) {
      replace(note, h('span', { class: 'error' }, err.message));
    }
  };
  refresh();
  fillChoices(form);
  const timer = setInterval(() => { if (!stopped && !document.hidden) refresh(); }, 3000);
  return () => { stopped = true; clearInterval(timer); };
}

function clean(f) {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v));
}

function filterForm(filters, apply) {
  const sel = (name, label, options) => h('label', { class: 'field' }, h('span', {}, label),
    h('select', { name }, h('option', { value: '' }, 'any'),
      options.map((o) => h('option', { value: o, selected: filters[name] === o }, o.replace('_', ' ')))));
  const form = h('form', { class: 'filters', role: 'search' },
    sel('workflow', 'Workflow', filters.workflow ? [filters.workflow] : []),
    sel('environment', 'Environment', filters.environment ? [filters.environment] : []),
    sel('status', 'Status', statuses),
    h('label', { class: 'field' }, h('span', {}, 'Started by'),
      h('input', { name: 'startedBy', value: filters.startedBy, placeholder: 'anyone', spellcheck: 'false' })));
  const read = () => Object.fromEntries(filterNames.map((k) => [k, form.elements[k].value.trim()]));
  form.addEventListener('change', () => apply(read()));
  form.addEventListener('submit', (e) => { e.preventDefault(); apply(read()); });
  return form;
}

// fillChoices offers every workflow and environment name in the filter selects.
async function fillChoices(form) {
  const add = (select, names) => {
    const have = new Set([...select.options].map((o) => o.value));
    for (const n of names) if (!have.has(n)) select.append(h('option', { value: n }, n));
  };
  try {
    const [wfs, envs] = await Promise.all([api.workflows(), api.environments()]);
    add(form.elements.workflow, wfs.filter((d) => !d.deleted).map((d) => d.name));
    add(form.elements.environment, envs.filter((d) => !d.deleted).map((d) => d.name));
  } catch { /* the filters still work with typed values */ }
}

function tableHead() {
  return h('thead', {}, h('tr', {},
    ['Execution', 'Workflow', 'Environment', 'Service', 'Version', 'Status', 'Current step', 'Traffic', 'Started by', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c))));
}

function renderRows(tbody, items) {
  replace(tbody, items.map((x) => {
    const p = x.progress || {};
    return h('tr', { 'data-id': x.id },
      h('td', { 'data-label': 'Execution' }, link(`/executions/${encodeURIComponent(x.id)}`, h('code', {}, x.id))),
      h('td', { 'data-label': 'Workflow' }, h('span', {}, link(`/workflows/${encodeURIComponent(x.workflow)}`, x.workflow), h('span', { class: 'muted' }, ` v${x.workflowVersion}`))),
      h('td', { 'data-label': 'Environment' }, x.environment),
      h('td', { 'data-label': 'Service' }, link(`/services/${encodeURIComponent(x.environment)}/${encodeURIComponent(x.service)}`, x.service)),
      h('td', { 'data-label': 'Version', class: 'col-version' }, p.artifact ? h('code', {}, p.artifact) : ''),
      h('td', { 'data-label': 'Status' }, badge(x.status)),
      h('td', { 'data-label': 'Current step', class: 'col-step' }, currentStep(x, p)),
      h('td', { 'data-label': 'Traffic', class: 'col-traffic' }, trafficText(p)),
      h('td', { 'data-label': 'Started by' }, x.startedBy || 'anonymous'),
      h('td', { 'data-label': 'Started', title: x.createdAt }, fmtAgo(x.createdAt)),
      h('td', { 'data-label': 'Duration', class: 'col-duration' }, fmtDuration(p.durationMs),
        p.endedAt ? h('span', { class: 'small muted' }, ` · ended ${fmtDateTime(p.endedAt)}`) : null));
  }));
}

// currentStep names where a running execution stands; finished ones show nothing.
function currentStep(x, p) {
  if (terminal(x.status) || !p.step) return '';
  return h('span', {}, p.phase ? h('span', { class: 'muted' }, `${p.phase} › `) : null, p.step);
}

// trafficText is the share on the new slot, or that the new slot is now live.
function trafficText(p) {
  if (p.promoted) return h('span', {}, 'promoted: ', slotPill(p.newSlot));
  if (p.traffic === undefined || p.traffic === null) return h('span', { class: 'muted' }, '—');
  return `${p.traffic}% to ${p.newSlot}`;
}
