// run.js: the run form, generated from a workflow's variables and checked in the
// browser with the same rules as the server before it is sent. The server checks
// again; its problems are shown next to the fields they name.

import { api, actingAs } from '../api.js';
import { h, replace } from '../dom.js';
import { workflowModel } from '../yaml.js';

const goDuration = /^(?:0|(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/;

/** checkValue returns why a value does not fit a variable, or ''. */
export function checkValue(v, s) {
  if (s === '') return v.required ? 'required' : '';
  switch (v.type) {
    case 'int': return /^[+-]?\d+$/.test(s.trim()) ? '' : 'not an integer';
    case 'duration': return goDuration.test(s.trim()) ? '' : 'not a duration like 30s, 5m or 1h30m';
    case 'percent': {
      const t = s.trim().replace(/%$/, '').trim();
      return /^[+-]?\d+$/.test(t) && +t >= 0 && +t <= 100 ? '' : 'not a percentage 0-100';
    }
    case 'enum': return (v.values || []).map(String).includes(s) ? '' : `not one of ${(v.values || []).join(', ')}`;
    case 'bool': return s === 'true' || s === 'false' ? '' : 'not true or false';
    default: return '';
  }
}

/** runView mounts the run form of params[0]; ?version=N runs that version. */
export function runView({ root, params, query, navigate }) {
  const name = params[0];
  const version = Number(query.get('version')) || 0;
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('section', { class: 'page narrow' }, h('h1', {}, 'Run ', name), body));
  (version ? api.workflowVersion(name, version) : api.workflow(name))
    .then((def) => replace(body, form(def, navigate)))
    .catch((err) => replace(body, h('p', { class: 'error' }, err.message)));
}

function form(def, navigate) {
  const vars = workflowModel(def.source).variables;
  const who = h('strong', { class: 'run-as' });
  const showWho = () => { who.textContent = actingAs(); };
  showWho();
  window.addEventListener('sluice-user', showWho);
  const f = h('form', { class: 'run-form', id: 'run-form', novalidate: true },
    h('p', { class: 'muted' }, `Version ${def.version}. Runs as `, who),
    vars.map(field),
    vars.length ? null : h('p', { class: 'muted' }, 'This workflow has no variables.'),
    h('p', { class: 'form-error error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'run-submit' }, 'Start execution')));
  f.addEventListener('input', (e) => e.target.name && fieldError(f, e.target.name, ''));
  f.addEventListener('submit', (e) => { e.preventDefault(); submit(f, def, vars, navigate); });
  return f;
}

function field(v) {
  const id = `var-${v.name}`;
  const def = v.default === undefined || v.default === null ? '' : String(v.default);
  let input;
  if (v.type === 'enum') {
    input = h('select', { id, name: v.name }, v.required && !def ? h('option', { value: '' }, 'choose…') : null,
      (v.values || []).map((o) => h('option', { value: String(o), selected: String(o) === def }, String(o))));
  } else if (v.type === 'bool') {
    input = h('select', { id, name: v.name }, ['true', 'false'].map((o) => h('option', { value: o, selected: o === (def || 'false') }, o)));
  } else {
    const hints = { int: { inputmode: 'numeric' }, percent: { inputmode: 'numeric', placeholder: '0-100' }, duration: { placeholder: 'e.g. 30s, 5m' } };
    input = h('input', { id, name: v.name, value: def, spellcheck: 'false', autocomplete: 'off', ...(hints[v.type] || {}) });
  }
  return h('div', { class: 'field', 'data-var': v.name },
    h('label', { for: id }, h('code', {}, v.name), ' ', h('span', { class: 'muted' }, v.type || 'string'), v.required ? h('span', { class: 'req' }, ' required') : null),
    input,
    v.description ? h('p', { class: 'hint muted' }, v.description) : null,
    h('p', { class: 'field-error error', 'aria-live': 'polite' }));
}

function fieldError(f, name, msg) {
  const el = f.querySelector(`[data-var="${CSS.escape(name)}"] .field-error`);
  if (el) el.textContent = msg;
  return Boolean(el);
}

async function submit(f, def, vars, navigate) {
  const values = {};
  let bad = 0;
  for (const v of vars) {
    const s = f.elements[v.name].value;
    const why = checkValue(v, s);
    fieldError(f, v.name, why);
    if (why) bad++;
    if (s !== '') values[v.name] = s;
  }
  const formError = f.querySelector('.form-error');
  formError.textContent = bad ? `Fix ${bad} field${bad > 1 ? 's' : ''} first.` : '';
  if (bad) return;
  const btn = f.querySelector('#run-submit');
  btn.disabled = true;
  try {
    const ex = await api.run(def.name, def.version, values);
    navigate(`/executions/${encodeURIComponent(ex.id)}`);
  } catch (err) {
    showProblems(f, err);
  } finally {
    btn.disabled = false;
  }
}

function showProblems(f, err) {
  const rest = [];
  for (const p of err.problems?.length ? err.problems : [{ path: err.field, message: err.message }]) {
    const name = (p.path || '').replace(/^variables\./, '');
    if (!(p.path || '').startsWith('variables.') || !fieldError(f, name, p.message)) rest.push(p.message);
  }
  f.querySelector('.form-error').textContent = rest.length ? `The server refused: ${rest.join('; ')}` : 'The server refused some values; see the fields.';
}
