// builder.js: the workflow builder: create a workflow from the seed's blue/green
// canary template or from nothing, or edit a stored one, through forms for its
// variables, service, phases and steps of every type, or as YAML; reorder phases and
// steps by dragging or from the keyboard; save as a new version after a diff preview.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { pathKey } from '../builder-doc.js';
import { f, fields, field } from './builder-fields.js';
import { mountBuilder } from './builder-frame.js';
import { reorderable, listTools } from './builder-list.js';
import { mayEdit } from './builder-roles.js';
import {
  stepTypes, stepLabels, newStep, scalarSteps, stepFields, metricFields, logFields,
  variableFields, serviceFields, healthFields,
} from './builder-schema.js';
import { environmentModel } from '../yaml.js';

/** blankWorkflow is where "Start from nothing" begins. */
export const blankWorkflow = 'apiVersion: sluice.dev/v1alpha1\nkind: Workflow\nmetadata: {}\nspec: {}\n';

/** workflowNewView offers the seed's template or a blank workflow. */
export function workflowNewView(ctx) {
  const from = ctx.query.get('from');
  if (from === 'template' || from === 'blank') return startNew(ctx, from);
  replace(ctx.root, h('section', { class: 'page narrow' },
    h('h1', {}, 'New workflow'),
    h('p', {}, 'Start from the blue/green canary of the seed (set up blue, canary at 10% with a load test, verification and an approval, then promote), or from nothing.'),
    h('div', { class: 'b-start' },
      h('a', { class: 'btn btn-primary', id: 'start-template', href: '/workflows/new?from=template' }, 'Blue/green canary template'),
      h('a', { class: 'btn', id: 'start-blank', href: '/workflows/new?from=blank' }, 'Start from nothing'))));
  return () => {};
}

function startNew(ctx, from) {
  let unmount = () => {};
  let gone = false;
  const source = from === 'template'
    ? fetch('/templates/blue-green-canary.yaml').then((r) => (r.ok ? r.text() : Promise.reject(new Error(`template: HTTP ${r.status}`))))
    : Promise.resolve(blankWorkflow);
  Promise.all([source, mayEdit('*'), providerHints()]).then(([src, perm, hints]) => {
    if (gone) return;
    unmount = mountWorkflow(ctx, { source: src, saved: '', title: 'New workflow', perm, hints });
  }).catch((err) => replace(ctx.root, h('p', { class: 'error' }, err.message)));
  return () => { gone = true; unmount(); };
}

/** workflowEditView edits a stored workflow (its latest version). */
export function workflowEditView(ctx) {
  const name = ctx.params[0];
  let unmount = () => {};
  let gone = false;
  replace(ctx.root, h('p', { class: 'muted' }, 'Loading…'));
  Promise.all([api.workflow(name), mayEdit('*'), providerHints()]).then(([def, perm, hints]) => {
    if (gone) return;
    unmount = mountWorkflow(ctx, { source: def.source, saved: def.source, title: `Edit ${def.name} (v${def.version})`, perm, hints });
  }).catch((err) => replace(ctx.root, h('h1', {}, name), h('p', { class: 'error' }, err.message)));
  return () => { gone = true; unmount(); };
}

function mountWorkflow(ctx, { source, saved, title, perm, hints }) {
  return mountBuilder({
    root: ctx.root, title, kind: 'Workflow', source, saved, canSave: perm.ok, denied: perm.why,
    drawForm: (doc, el, redraw, announce) => drawWorkflow(doc, el, redraw, announce, hints),
    after: (name) => ctx.navigate(`/workflows/${encodeURIComponent(name)}`),
  });
}

// providerHints lists the environments and their providers, for the pickers.
async function providerHints() {
  const list = (await api.environments().catch(() => [])).filter((d) => !d.deleted);
  const defs = await Promise.all(list.map((d) => api.environment(d.name).catch(() => null)));
  const providers = [];
  for (const d of defs.filter(Boolean)) {
    for (const p of environmentModel(d.source).providers) providers.push({ env: d.name, name: p.name, type: p.type });
  }
  return { environments: list.map((d) => d.name), providers };
}

function drawWorkflow(doc, el, redraw, announce, hints) {
  const env = String(doc.get(['spec', 'environment']) ?? '');
  const envs = envsNamed(doc, env);
  const providers = hints.providers.filter((p) => !envs.length || envs.includes(p.env));
  replace(el,
    h('datalist', { id: 'b-envs' }, hints.environments.map((n) => h('option', { value: n }))),
    h('datalist', { id: 'b-providers' }, providers.map((p) => h('option', { value: p.name }, `${p.name} (${p.type}) in ${p.env}`))),
    section('General', 'b-general',
      fields(doc, ['metadata'], [f('name', 'text', 'Workflow name'), f('description', 'text', 'Description')]),
      fields(doc, ['spec'], [f('environment', 'text', 'Environment (a name or ${variable})', { list: 'b-envs' }),
        f('onFailure', 'failure', 'On failure (the whole workflow)')])),
    section('Variables', 'b-variables', variables(doc, redraw, announce)),
    section('Service', 'b-service',
      fields(doc, ['spec', 'service'], serviceFields),
      fields(doc, ['spec', 'service', 'workloadRef'], [f('name', 'text', 'Workload (the team’s Kubernetes Deployment)')]),
      fields(doc, ['spec', 'service', 'health'], healthFields)),
    section('Phases', 'b-phases', phases(doc, redraw, announce)));
}

// envsNamed lists the environments the workflow may run in: its environment, or the
// values and default of the variable it names.
function envsNamed(doc, env) {
  const m = env.match(/^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/);
  if (!m) return env ? [env] : [];
  const v = (doc.get(['spec', 'variables']) || []).find((x) => x && x.name === m[1]);
  return v ? [...(v.values || []), v.default].filter(Boolean).map(String) : [];
}

function section(title, id, ...body) {
  return h('section', { class: 'card b-section', id, 'aria-labelledby': id + '-h' }, h('h2', { id: id + '-h' }, title), body);
}

function variables(doc, redraw, announce) {
  const path = ['spec', 'variables'];
  const n = doc.length(path);
  const items = Array.from({ length: n }, (_, i) => {
    const name = doc.get([...path, i, 'name']) || `variable ${i + 1}`;
    return h('li', { class: 'b-item' },
      h('div', { class: 'b-item-head' }, h('strong', {}, name), listTools(doc, path, i, n, `variable ${name}`, redraw, announce)),
      fields(doc, [...path, i], variableFields));
  });
  return [
    reorderable(h('ol', { class: 'b-list', 'data-list': pathKey(path) }, items), doc, path, redraw, announce),
    addButton('Add variable', path, () => {
      const i = doc.add(path, { name: `var${n + 1}`, type: 'string' });
      redraw(`[data-path="${pathKey([...path, i, 'name'])}"]`);
    }),
  ];
}

function phases(doc, redraw, announce) {
  const path = ['spec', 'phases'];
  const n = doc.length(path);
  const items = Array.from({ length: n }, (_, i) => phase(doc, [...path, i], i, n, redraw, announce));
  return [
    reorderable(h('ol', { class: 'b-list b-phase-list', 'data-list': pathKey(path) }, items), doc, path, redraw, announce),
    addButton('Add phase', path, () => {
      const i = doc.add(path, { name: `phase-${n + 1}`, steps: [] });
      redraw(`[data-path="${pathKey([...path, i, 'name'])}"]`);
    }),
  ];
}

function phase(doc, path, i, n, redraw, announce) {
  const name = doc.get([...path, 'name']) || `phase ${i + 1}`;
  const steps = [...path, 'steps'];
  const count = doc.length(steps);
  const typeSel = h('select', { id: `add-step-type-${i}`, 'aria-label': `Type of the step to add to phase ${name}` },
    stepTypes.map((t) => h('option', { value: t }, stepLabels[t])));
  return h('li', { class: 'b-item b-phase', 'data-phase': i },
    h('div', { class: 'b-item-head' }, h('h3', {}, `Phase ${i + 1}: ${name}`), listTools(doc, path.slice(0, -1), i, n, `phase ${name}`, redraw, announce)),
    fields(doc, path, [f('name', 'text', 'Phase name'), f('onFailure', 'failure', 'On failure (this phase)')]),
    reorderable(h('ol', { class: 'b-list b-step-list', 'data-list': pathKey(steps) },
      Array.from({ length: count }, (_, j) => step(doc, [...steps, j], j, count, redraw, announce))), doc, steps, redraw, announce),
    h('div', { class: 'b-add-step' }, typeSel,
      h('button', { type: 'button', class: 'btn btn-small', 'data-add-step': i, onclick: () => {
        const type = typeSel.value;
        const j = doc.add(steps, { [type]: newStep[type] });
        redraw(`[data-path="${pathKey([...steps, j, 'name'])}"]`);
      } }, 'Add step')));
}

function step(doc, path, j, n, redraw, announce) {
  const type = stepTypes.find((t) => doc.has([...path, t])) || 'unknown';
  const name = doc.get([...path, 'name']) || type;
  return h('li', { class: 'b-item b-step', 'data-step': pathKey(path), 'data-type': type },
    h('div', { class: 'b-item-head' }, h('span', { class: 'step-type' }, stepLabels[type] || type), h('strong', {}, name),
      listTools(doc, path.slice(0, -1), j, n, `step ${name}`, redraw, announce)),
    fields(doc, path, [f('name', 'text', 'Step name')]),
    stepBody(doc, [...path, type], type, redraw, announce),
    fields(doc, path, [f('onFailure', 'failure', 'On failure (this step)'), f('timeout', 'text', 'Timeout', { advanced: true })]));
}

function stepBody(doc, path, type, redraw, announce) {
  if (scalarSteps[type] && !doc.isMapAt(path)) return h('div', { class: 'b-fields' }, field(doc, path, scalarSteps[type]));
  const out = [fields(doc, path, stepFields[type] || [])];
  if (type === 'verify') {
    out.push(checks(doc, [...path, 'metrics'], 'metric', metricFields, redraw, announce));
    out.push(checks(doc, [...path, 'logs'], 'log check', logFields, redraw, announce));
  }
  return out;
}

function checks(doc, path, what, list, redraw, announce) {
  const n = doc.length(path);
  const items = Array.from({ length: n }, (_, i) => {
    const name = doc.get([...path, i, 'name']) || `${what} ${i + 1}`;
    return h('li', { class: 'b-item b-check-item' },
      h('div', { class: 'b-item-head' }, h('strong', {}, `${what}: ${name}`), listTools(doc, path, i, n, `${what} ${name}`, redraw, announce)),
      fields(doc, [...path, i], list));
  });
  return h('div', { class: 'b-checks' }, h('h4', {}, what === 'metric' ? 'Metrics' : 'Logs'),
    reorderable(h('ol', { class: 'b-list', 'data-list': pathKey(path) }, items), doc, path, redraw, announce),
    addButton(`Add ${what}`, path, () => {
      const i = doc.add(path, { name: `${what.split(' ')[0]}-${n + 1}` });
      redraw(`[data-path="${pathKey([...path, i, 'name'])}"]`);
    }));
}

function addButton(label, path, onclick) {
  return h('button', { type: 'button', class: 'btn btn-small b-add', 'data-add': pathKey(path), onclick }, label);
}
