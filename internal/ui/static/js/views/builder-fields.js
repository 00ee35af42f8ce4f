// builder-fields.js: form fields bound to a path of a BuilderDoc. Every field reads
// its value from the document when drawn and writes it back on change, so the form
// and the YAML tab never disagree. Each input carries data-path (spec.service.port),
// which inline validation uses to put the server's problems next to their field.

import { h } from '../dom.js';
import { pathKey } from '../builder-doc.js';

/** f declares a field: key, kind, label, and options (select values, help, advanced). */
export function f(key, kind, label, opts = {}) {
  return { key, kind, label, ...opts };
}

const failureActions = ['', 'rollback', 'pause', 'retry', 'ignore', 'fail'];

/** fieldId is the element id of the input for path. */
export function fieldId(path) {
  return 'f-' + pathKey(path).replace(/[^A-Za-z0-9_-]/g, '-');
}

/** fields draws a list of fields under base; advanced ones go in a "More fields" fold. */
export function fields(doc, base, list) {
  const at = (x) => [...base, ...(x.at || [x.key])];
  const plain = list.filter((x) => !x.advanced).map((x) => field(doc, at(x), x));
  const more = list.filter((x) => x.advanced);
  const open = more.some((x) => doc.has(at(x)));
  return [
    h('div', { class: 'b-fields' }, plain),
    more.length ? h('details', { class: 'b-more', open },
      h('summary', {}, `More fields (${more.map((x) => x.key).join(', ')})`),
      h('div', { class: 'b-fields' }, more.map((x) => field(doc, at(x), x)))) : null,
  ];
}

/** field draws one labelled input for path. */
export function field(doc, path, spec) {
  if (spec.kind === 'failure') return failureField(doc, path, spec);
  if (spec.kind === 'kv') return kvField(doc, path, spec);
  const id = fieldId(path);
  const input = control(doc, path, spec, id);
  return h('div', { class: `field b-field b-${spec.kind}`, 'data-field': pathKey(path) },
    spec.kind === 'bool' ? h('label', { for: id, class: 'b-check' }, input, ' ', spec.label)
      : [h('label', { for: id }, spec.label), input],
    spec.help ? h('span', { class: 'muted small', id: id + '-help' }, spec.help) : null,
    h('span', { class: 'field-error', 'data-error-for': pathKey(path), role: 'alert' }));
}

// control makes the input, select or textarea and binds it to the document.
function control(doc, path, spec, id) {
  const v = doc.get(path);
  const common = { id, 'data-path': pathKey(path), 'data-kind': spec.kind, 'aria-describedby': spec.help ? id + '-help' : null };
  let el;
  switch (spec.kind) {
    case 'select':
      el = h('select', common, spec.options.map((o) => h('option', { value: o, selected: String(v ?? '') === o }, o || '—')));
      if (v !== undefined && !spec.options.includes(String(v))) el.append(h('option', { value: String(v), selected: true }, String(v)));
      break;
    case 'bool':
      el = h('input', { ...common, type: 'checkbox', checked: v === true });
      break;
    case 'textarea':
      el = h('textarea', { ...common, rows: 3, spellcheck: 'false' });
      el.value = v ?? '';
      break;
    default:
      el = h('input', { ...common, type: 'text', spellcheck: 'false', autocomplete: 'off', list: spec.list || null,
        inputmode: spec.kind === 'int' ? 'numeric' : null, placeholder: spec.placeholder || null });
      el.value = display(v, spec.kind);
  }
  el.addEventListener('change', () => doc.set(path, parse(el, spec.kind)));
  return el;
}

function display(v, kind) {
  if (v === undefined || v === null) return '';
  if (kind === 'list' || kind === 'intlist') return [].concat(v).join(', ');
  return String(v);
}

/** parse turns an input's text into the value the document holds. */
export function parse(el, kind) {
  if (kind === 'bool') return el.checked ? true : undefined;
  const s = kind === 'textarea' ? el.value : el.value.trim();
  switch (kind) {
    case 'int': return /^-?\d+$/.test(s) ? Number(s) : s;
    case 'num': return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s;
    case 'percent': return /^\d+$/.test(s) ? Number(s) : s;
    case 'list': return s === '' ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean);
    case 'intlist': return s === '' ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
    default: return s;
  }
}

// failureField edits a failure strategy: the shorthand `rollback`, or a map with
// retries, a backoff and what to do when they run out.
function failureField(doc, path, spec) {
  const cur = doc.get(path);
  const isMap = doc.isMapAt(path);
  const action = isMap ? cur.action : cur;
  const id = fieldId(path);
  const sel = h('select', { id, 'data-path': pathKey(path), 'data-kind': 'failure' },
    failureActions.map((o) => h('option', { value: o, selected: String(action ?? '') === o }, o || '— (inherit)')));
  const box = h('div', { class: 'field b-field b-failure', 'data-field': pathKey(path) },
    h('label', { for: id }, spec.label), sel,
    h('span', { class: 'field-error', 'data-error-for': pathKey(path), role: 'alert' }));
  const retry = h('div', { class: 'b-retry', hidden: action !== 'retry' },
    ['retries', 'backoff', 'then'].map((k) => failurePart(doc, path, k)));
  sel.addEventListener('change', () => {
    if (doc.isMapAt(path)) doc.set([...path, 'action'], sel.value);
    else doc.set(path, sel.value);
    retry.hidden = sel.value !== 'retry';
  });
  box.append(retry);
  return box;
}

function failurePart(doc, path, key) {
  const p = [...path, key];
  const id = fieldId(p);
  const v = doc.isMapAt(path) ? doc.get(p) : undefined;
  const label = { retries: 'Retries', backoff: 'Backoff (first delay)', then: 'Then' }[key];
  const el = key === 'then'
    ? h('select', { id, 'data-path': pathKey(p) }, failureActions.filter((a) => a !== 'retry').map((o) => h('option', { value: o, selected: String(v ?? '') === o }, o || '—')))
    : h('input', { id, type: 'text', 'data-path': pathKey(p), value: v ?? '' });
  el.addEventListener('change', () => {
    const val = key === 'retries' ? parse(el, 'int') : el.value.trim();
    if (!doc.isMapAt(path)) {
      const action = doc.get(path) || 'retry';
      if (val === '') return;
      doc.replace(path, { action, [key]: val });
      return;
    }
    doc.set(p, val);
  });
  return h('div', { class: 'field b-field' }, h('label', { for: id }, label), el);
}

// kvField edits a map of strings (headers, settings, env) as rows of key and value.
function kvField(doc, path, spec) {
  const rows = h('div', { class: 'b-kv-rows' });
  const id = fieldId(path);
  const read = () => Object.entries(doc.get(path) || {});
  const write = () => {
    const obj = {};
    for (const r of rows.querySelectorAll('.b-kv-row')) {
      const k = r.querySelector('[data-kv="key"]').value.trim();
      if (k) obj[k] = r.querySelector('[data-kv="value"]').value;
    }
    if (Object.keys(obj).length) doc.replace(path, obj);
    else if (doc.has(path)) doc.remove(path);
  };
  const row = (k, v) => {
    const n = rows.children.length;
    const r = h('div', { class: 'b-kv-row' },
      h('input', { type: 'text', 'data-kv': 'key', 'aria-label': `${spec.label} ${n + 1}: name`, value: k, onchange: write }),
      h('input', { type: 'text', 'data-kv': 'value', 'aria-label': `${spec.label} ${n + 1}: value`, value: typeof v === 'object' ? JSON.stringify(v) : v, onchange: write }),
      h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Remove ${spec.label} ${n + 1}`, onclick: () => { r.remove(); write(); } }, '✕'));
    rows.append(r);
    return r;
  };
  for (const [k, v] of read()) row(k, v ?? '');
  return h('div', { class: 'field b-field b-kv', 'data-field': pathKey(path), id, 'data-path': pathKey(path) },
    h('span', { class: 'b-kv-label' }, spec.label), rows,
    h('button', { type: 'button', class: 'btn btn-small', 'data-add-kv': pathKey(path), onclick: () => row('', '').querySelector('input').focus() }, `Add ${spec.item || 'entry'}`),
    h('span', { class: 'field-error', 'data-error-for': pathKey(path), role: 'alert' }));
}
