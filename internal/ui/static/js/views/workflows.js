// workflows.js: the workflow list and a workflow's detail: phases and steps,
// variables, source and version history.

import { api } from '../api.js';
import { h, replace, fmtDateTime, fmtAgo, link } from '../dom.js';
import { workflowModel } from '../yaml.js';
import { lineDiff } from '../diff.js';
import { editButton } from './builder-roles.js';

/** workflowsView mounts the list of workflows. */
export function workflowsView({ root }) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('section', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Workflows'), editButton('/workflows/new', '*', 'New workflow')), body));
  api.workflows().then((items) => {
    const live = items.filter((d) => !d.deleted);
    replace(body, live.length ? h('ul', { class: 'cards', id: 'workflows' }, live.map(card))
      : h('p', { class: 'muted' }, 'No workflows yet. Apply one with ', h('code', {}, 'sluice apply -f workflow.yaml'), '.'));
  }).catch((err) => replace(body, h('p', { class: 'error' }, err.message)));
}

function card(d) {
  const href = `/workflows/${encodeURIComponent(d.name)}`;
  return h('li', { class: 'card wf-card' },
    h('h2', {}, link(href, d.name)),
    h('p', { class: 'muted' }, `v${d.version} · by ${d.createdBy || 'anonymous'} · ${fmtAgo(d.createdAt)}`),
    h('div', { class: 'card-actions' }, h('a', { class: 'btn btn-primary', href: href + '/run' }, 'Run…'), h('a', { class: 'btn', href }, 'Details')));
}

/** workflowView mounts one workflow: ?version=N shows an older version. */
export function workflowView({ root, params, query }) {
  const name = params[0];
  const version = query.get('version');
  const against = query.get('diff');
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('section', { class: 'page' }, body));
  Promise.all([version ? api.workflowVersion(name, version) : api.workflow(name), api.workflowVersions(name),
    against ? api.workflowVersion(name, against) : null])
    .then(([def, versions, old]) => replace(body, detail(def, versions, old)))
    .catch((err) => replace(body, h('h1', {}, name), h('p', { class: 'error' }, err.message)));
}

function detail(def, versions, old) {
  const m = workflowModel(def.source);
  const latest = versions.filter((v) => !v.deleted).at(-1);
  return [
    h('div', { class: 'page-head' },
      h('h1', {}, def.name, h('span', { class: 'muted' }, ` v${def.version}`)),
      h('span', { class: 'card-actions' }, editButton(`/workflows/${encodeURIComponent(def.name)}/edit`, '*'),
        h('a', { class: 'btn btn-primary', href: `/workflows/${encodeURIComponent(def.name)}/run${latest && latest.version !== def.version ? `?version=${def.version}` : ''}` }, 'Run…'))),
    m.description ? h('p', { class: 'lead' }, m.description) : null,
    h('p', { class: 'meta' }, `environment ${m.environment ?? '?'} · service ${m.service.name ?? '?'} · on failure ${m.onFailure || 'rollback'}`),
    h('div', { class: 'exec-grid' },
      h('section', { class: 'card' }, h('h2', {}, 'Phases'), phases(m.phases)),
      h('section', { class: 'card' }, h('h2', {}, 'Variables'), variablesTable(m.variables),
        h('h2', {}, 'Versions'), history(def, versions))),
    old ? changes(old, def) : h('section', { class: 'card' }, h('h2', {}, 'Source'), h('pre', { class: 'source', tabindex: '0', 'aria-label': 'Workflow source' }, def.source || '')),
  ];
}

// changes shows what a version changed from an older one, line by line.
function changes(old, def) {
  const lines = lineDiff(old.source || '', def.source || '');
  const n = lines.filter((l) => l.op !== ' ').length;
  return h('section', { class: 'card' },
    h('h2', {}, `Changes from v${old.version} to v${def.version}`, h('span', { class: 'muted small' }, ` · ${n} line${n === 1 ? '' : 's'} changed`)),
    h('pre', { class: 'source diff', id: 'diff', tabindex: '0', 'aria-label': 'Changes between the versions' }, lines.map((l) => h('span', { class: `dl d${l.op === ' ' ? 'same' : l.op === '+' ? 'add' : 'del'}` }, `${l.op} ${l.text}`))));
}

function phases(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No phases.');
  return h('ol', { class: 'phases static' }, list.map((p) => h('li', { class: 'phase' },
    h('div', { class: 'phase-head' }, h('span', { class: 'phase-name' }, p.name), p.onFailure ? h('span', { class: 'muted' }, `on failure: ${describe(p.onFailure)}`) : null),
    h('ol', { class: 'steps' }, p.steps.map((s) => h('li', {}, h('div', { class: 'step', 'data-type': s.type },
      h('span', { class: 'step-icon' }, '○'),
      h('span', { class: 'step-main' }, h('span', { class: 'step-name' }, s.name), h('span', { class: 'step-type' }, s.type),
        h('span', { class: 'step-msg' }, s.summary)))))))));
}

function describe(f) {
  return typeof f === 'object' ? f.action || JSON.stringify(f) : String(f);
}

function variablesTable(vars) {
  if (!vars.length) return h('p', { class: 'muted' }, 'No variables.');
  return h('table', { class: 'list compact' }, h('thead', {}, h('tr', {}, ['Name', 'Type', 'Default', ''].map((c) => h('th', {}, c)))),
    h('tbody', {}, vars.map((v) => h('tr', {},
      h('td', {}, h('code', {}, v.name), v.description ? h('div', { class: 'muted small' }, v.description) : null),
      h('td', {}, v.type === 'enum' ? `enum: ${(v.values || []).join(' | ')}` : v.type || 'string'),
      h('td', {}, v.default ?? ''),
      h('td', {}, v.required ? h('span', { class: 'chip' }, 'required') : null)))));
}

function history(def, versions) {
  const base = `/workflows/${encodeURIComponent(def.name)}`;
  const live = versions.filter((v) => !v.deleted);
  const prev = (v) => live.filter((p) => p.version < v.version).at(-1);
  return h('ol', { class: 'versions', reversed: true }, [...versions].reverse().map((v) => h('li', { class: v.version === def.version ? 'current' : '' },
    v.deleted ? h('span', {}, `v${v.version} deleted`) : link(`${base}?version=${v.version}`, `v${v.version}`),
    h('span', { class: 'muted' }, ` · ${v.createdBy || 'anonymous'} · ${fmtDateTime(v.createdAt)}`),
    !v.deleted && prev(v) ? [' · ', link(`${base}?version=${v.version}&diff=${prev(v).version}`, `changes from v${prev(v).version}`)] : null)));
}
