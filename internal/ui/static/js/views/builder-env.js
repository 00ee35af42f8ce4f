// builder-env.js: the environment builder: platform (local processes or Kubernetes),
// router (builtin, Istio, Gateway API) and verification providers, whose credentials
// are references (an environment variable, a file, a Kubernetes Secret) and never
// values: the form has no place to type a secret.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { pathKey } from '../builder-doc.js';
import { f, fields, fieldId } from './builder-fields.js';
import { mountBuilder } from './builder-frame.js';
import { reorderable, listTools } from './builder-list.js';
import { mayEdit } from './builder-roles.js';
import { platformTypes, routerTypes, platformFields, routerFields, commandFields, providerFields } from './builder-schema.js';

const templates = { local: '/templates/local.yaml', istio: '/templates/istio.yaml' };

/** environmentNewView starts an environment from an example (local, istio) or nothing. */
export function environmentNewView(ctx) {
  const from = ctx.query.get('from');
  if (!templates[from] && from !== 'blank') {
    replace(ctx.root, h('section', { class: 'page narrow' }, h('h1', {}, 'New environment'),
      h('p', {}, 'Start from an example or from nothing.'),
      h('div', { class: 'b-start' },
        h('a', { class: 'btn btn-primary', id: 'start-local', href: '/environments/new?from=local' }, 'Local processes, builtin router'),
        h('a', { class: 'btn', id: 'start-istio', href: '/environments/new?from=istio' }, 'Kubernetes with Istio'),
        h('a', { class: 'btn', id: 'start-blank', href: '/environments/new?from=blank' }, 'Start from nothing'))));
    return () => {};
  }
  const blank = 'apiVersion: sluice.dev/v1alpha1\nkind: Environment\nmetadata: {}\nspec: {}\n';
  const src = from === 'blank' ? Promise.resolve(blank)
    : fetch(templates[from]).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`template: HTTP ${r.status}`))));
  return later(ctx, Promise.all([src, mayEdit('*')]).then(([source, perm]) => ({ source, saved: '', title: 'New environment', perm })));
}

/** environmentEditView edits a stored environment. */
export function environmentEditView(ctx) {
  const name = ctx.params[0];
  return later(ctx, Promise.all([api.environment(name), mayEdit(name)])
    .then(([def, perm]) => ({ source: def.source, saved: def.source, title: `Edit environment ${def.name} (v${def.version})`, perm })));
}

function later(ctx, loaded) {
  let unmount = () => {};
  let gone = false;
  replace(ctx.root, h('p', { class: 'muted' }, 'Loading…'));
  loaded.then(({ source, saved, title, perm }) => {
    if (gone) return;
    unmount = mountBuilder({
      root: ctx.root, title, kind: 'Environment', source, saved, canSave: perm.ok, denied: perm.why,
      intro: h('p', { class: 'muted' }, 'Credentials are references only — an environment variable, a file or a Kubernetes Secret that sluice reads when it needs them. Never paste a secret here.'),
      drawForm: drawEnvironment,
      after: () => ctx.navigate('/environments'),
    });
  }).catch((err) => replace(ctx.root, h('p', { class: 'error' }, err.message)));
  return () => { gone = true; unmount(); };
}

function drawEnvironment(doc, el, redraw, announce) {
  const ptype = String(doc.get(['spec', 'platform', 'type']) ?? '');
  const rtype = String(doc.get(['spec', 'router', 'type']) ?? '');
  replace(el,
    section('General', 'b-general', fields(doc, ['metadata'], [f('name', 'text', 'Environment name'), f('description', 'text', 'Description')])),
    section('Platform', 'b-platform',
      typeSelect(doc, ['spec', 'platform', 'type'], 'Platform', platformTypes, redraw),
      platformFields[ptype] ? fields(doc, ['spec', 'platform', ptype], platformFields[ptype]) : null,
      ptype === 'local' ? commands(doc, ['spec', 'platform', 'local', 'commands'], redraw, announce) : null),
    section('Router', 'b-router',
      typeSelect(doc, ['spec', 'router', 'type'], 'Router', routerTypes, redraw),
      routerFields[rtype] ? fields(doc, ['spec', 'router', rtype], routerFields[rtype]) : null),
    section('Providers', 'b-providers-section', providers(doc, redraw, announce)));
}

function section(title, id, ...body) {
  return h('section', { class: 'card b-section', id, 'aria-labelledby': id + '-h' }, h('h2', { id: id + '-h' }, title), body);
}

// typeSelect picks a platform or router type; the form then shows that type's settings.
function typeSelect(doc, path, label, types, redraw) {
  const id = fieldId(path);
  const cur = String(doc.get(path) ?? '');
  const sel = h('select', { id, 'data-path': pathKey(path) },
    h('option', { value: '', selected: !cur }, '—'),
    [...new Set([...types, cur].filter(Boolean))].map((t) => h('option', { value: t, selected: t === cur }, t)));
  sel.addEventListener('change', () => { doc.set(path, sel.value); redraw(`[data-path="${pathKey(path)}"]`); });
  return h('div', { class: 'field b-field' }, h('label', { for: id }, `${label} type`), sel,
    h('span', { class: 'field-error', 'data-error-for': pathKey(path), role: 'alert' }));
}

function commands(doc, path, redraw, announce) {
  const n = doc.length(path);
  const items = Array.from({ length: n }, (_, i) => {
    const name = doc.get([...path, i, 'name']) || `command ${i + 1}`;
    return h('li', { class: 'b-item' }, h('div', { class: 'b-item-head' }, h('strong', {}, name), listTools(doc, path, i, n, `command ${name}`, redraw, announce)),
      fields(doc, [...path, i], commandFields));
  });
  return h('div', {}, h('h3', {}, 'Commands instances may run'),
    reorderable(h('ol', { class: 'b-list', 'data-list': pathKey(path) }, items), doc, path, redraw, announce),
    h('button', { type: 'button', class: 'btn btn-small', 'data-add': pathKey(path), onclick: () => {
      const i = doc.add(path, { name: `app${n + 1}` });
      redraw(`[data-path="${pathKey([...path, i, 'name'])}"]`);
    } }, 'Add command'));
}

function providers(doc, redraw, announce) {
  const path = ['spec', 'providers'];
  const n = doc.length(path);
  const items = Array.from({ length: n }, (_, i) => {
    const name = doc.get([...path, i, 'name']) || `provider ${i + 1}`;
    return h('li', { class: 'b-item', 'data-provider': name },
      h('div', { class: 'b-item-head' }, h('strong', {}, name), listTools(doc, path, i, n, `provider ${name}`, redraw, announce)),
      fields(doc, [...path, i], providerFields),
      credentials(doc, [...path, i, 'credentials'], redraw));
  });
  return [
    reorderable(h('ol', { class: 'b-list', 'data-list': pathKey(path) }, items), doc, path, redraw, announce),
    h('button', { type: 'button', class: 'btn btn-small', 'data-add': pathKey(path), onclick: () => {
      const i = doc.add(path, { name: `provider${n + 1}`, type: 'prometheus' });
      redraw(`[data-path="${pathKey([...path, i, 'name'])}"]`);
    } }, 'Add provider'),
  ];
}

const refKinds = { env: 'Environment variable', file: 'File', secret: 'Kubernetes Secret' };

// credentials edits a provider's credential references, one row per credential: its
// name, where sluice reads it (env, file, secret) and that place. There is no input
// for a value.
function credentials(doc, path, redraw) {
  const keys = doc.keys(path);
  const rows = keys.map((k) => credentialRow(doc, path, k, redraw));
  return h('div', { class: 'b-creds', 'data-field': pathKey(path) },
    h('h4', {}, 'Credentials (references only)'),
    h('div', { class: 'b-kv-rows' }, rows),
    h('button', { type: 'button', class: 'btn btn-small', 'data-add': pathKey(path), onclick: () => {
      let k = 'apiKey';
      for (let i = 2; keys.includes(k); i++) k = `apiKey${i}`;
      setRef(doc, [...path, k], { env: '' });
      redraw(`[data-path="${pathKey([...path, k])}"]`);
    } }, 'Add credential'),
    h('span', { class: 'field-error', 'data-error-for': pathKey(path), role: 'alert' }));
}

function credentialRow(doc, path, key, redraw) {
  const ref = doc.get([...path, key]) || {};
  const kind = ['env', 'file', 'secret'].find((k) => ref && typeof ref === 'object' && k in ref) || 'env';
  const id = fieldId([...path, key]);
  const nameIn = h('input', { type: 'text', id, 'data-path': pathKey([...path, key]), 'aria-label': 'Credential name', value: key });
  const kindSel = h('select', { 'aria-label': `Where ${key} is read from`, 'data-ref-kind': key }, Object.entries(refKinds).map(([k, label]) => h('option', { value: k, selected: k === kind }, label)));
  const s = (kind === 'secret' && ref.secret) || {};
  const where = kind === 'secret'
    ? [input('secret name', s.name, 'name'), input('key', s.key, 'key'), input('namespace (optional)', s.namespace, 'namespace')]
    : [input(kind === 'env' ? 'variable name, e.g. NEW_RELIC_API_KEY' : 'file path', ref[kind], kind)];
  function input(label, value, part) {
    return h('input', { type: 'text', 'data-ref': part, 'aria-label': `${key}: ${label}`, placeholder: label, value: value ?? '', autocomplete: 'off' });
  }
  const row = h('div', { class: 'b-kv-row b-cred', 'data-credential': key }, nameIn, kindSel, where,
    h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Remove credential ${key}`, onclick: () => { doc.remove([...path, key]); redraw(); } }, '✕'));
  const write = () => {
    const k = kindSel.value;
    const val = (part) => row.querySelector(`[data-ref="${part}"]`)?.value.trim() || '';
    const next = k === 'secret'
      ? { secret: Object.fromEntries([['namespace', val('namespace')], ['name', val('name')], ['key', val('key')]].filter(([, v]) => v)) }
      : { [k]: val(k) };
    const newKey = nameIn.value.trim() || key;
    if (newKey !== key) doc.remove([...path, key]);
    setRef(doc, [...path, newKey], next);
  };
  nameIn.addEventListener('change', () => { write(); redraw(); });
  kindSel.addEventListener('change', () => { const k = kindSel.value; setRef(doc, [...path, nameIn.value.trim() || key], k === 'secret' ? { secret: {} } : { [k]: '' }); redraw(); });
  for (const el of row.querySelectorAll('[data-ref]')) el.addEventListener('change', write);
  return row;
}

// setRef writes a reference in flow style ({env: NAME}), as the examples do.
function setRef(doc, path, ref) {
  doc.ensureMap(path.slice(0, -1));
  doc.node(path.slice(0, -1)).set(path.at(-1), doc.doc.createNode(ref, { flow: true }));
  doc.changed();
}
