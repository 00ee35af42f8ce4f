// builder-frame.js: what the workflow and environment builders share: the Form and
// YAML tabs over one BuilderDoc, inline validation by the server (a dry-run apply,
// whose problems carry file:line:col and the field's path), and saving as a new
// version after a diff preview.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { BuilderDoc, redactedAt, serverPath, redactedMask } from '../builder-doc.js';
import { lineDiff } from '../diff.js';

const fileName = 'builder.yaml';

/**
 * mountBuilder draws a builder. opts: root, title, kind ('Workflow' | 'Environment'),
 * source (the document to start from), saved (the stored source, '' for a new one),
 * canSave (the person's roles allow saving), denied (why not), drawForm(doc, el, redraw),
 * after(name) (where to go once saved). Returns the unmount function.
 */
export function mountBuilder(opts) {
  const doc = new BuilderDoc(opts.source);
  const st = { tab: 'form', timer: 0, seq: 0, problems: [], gone: false };
  const formEl = h('div', { class: 'b-form', id: 'builder-form', role: 'tabpanel', 'aria-labelledby': 'tab-form' });
  const yamlEl = h('textarea', { id: 'builder-yaml', class: 'b-yaml source', spellcheck: 'false', 'aria-label': 'Document as YAML', rows: 30 });
  const yamlPanel = h('div', { id: 'builder-yaml-panel', role: 'tabpanel', 'aria-labelledby': 'tab-yaml', hidden: true },
    h('p', { class: 'muted small' }, 'The same document as the form: edit either; comments and key order are kept.'), yamlEl);
  const problemsEl = h('div', { id: 'builder-problems', class: 'b-problems', role: 'status', 'aria-live': 'polite' });
  const live = h('p', { id: 'builder-live', class: 'visually-hidden', 'aria-live': 'assertive' });
  const status = h('span', { id: 'builder-status', class: 'muted small', role: 'status' });
  const note = h('span', { id: 'builder-save-note', class: 'error small', role: 'alert' });

  const redraw = (focusSel) => {
    opts.drawForm(doc, formEl, redraw, (msg) => { live.textContent = msg; });
    markProblems(formEl, st.problems);
    if (focusSel) formEl.querySelector(focusSel)?.focus();
  };
  const tab = (name, label) => h('button', { type: 'button', role: 'tab', id: `tab-${name}`, class: 'b-tab', 'aria-selected': String(name === 'form'),
    'aria-controls': name === 'form' ? 'builder-form' : 'builder-yaml-panel', onclick: () => show(name) }, label);
  const tabs = h('div', { class: 'b-tabs', role: 'tablist', 'aria-label': 'Edit as' }, tab('form', 'Form'), tab('yaml', 'YAML'));

  function show(name) {
    if (name === st.tab) return;
    if (st.tab === 'yaml') takeYAML();
    st.tab = name;
    for (const b of tabs.querySelectorAll('[role=tab]')) b.setAttribute('aria-selected', String(b.id === `tab-${name}`));
    formEl.hidden = name !== 'form';
    yamlPanel.hidden = name !== 'yaml';
    if (name === 'yaml') yamlEl.value = doc.text();
    else redraw();
  }

  // takeYAML makes the YAML tab's text the document, when it parses.
  function takeYAML() {
    const text = yamlEl.value;
    if (text === doc.text()) return;
    doc.load(text);
    doc.original = text;
    doc.changed();
  }

  yamlEl.addEventListener('input', () => {
    clearTimeout(st.yamlTimer);
    st.yamlTimer = setTimeout(() => { takeYAML(); }, 400);
  });

  doc.onChange(() => {
    if (st.tab === 'form') yamlEl.value = doc.text();
    schedule();
  });

  function schedule() {
    clearTimeout(st.timer);
    st.timer = setTimeout(validate, 500);
  }

  // validate asks the server to check the document without storing it.
  async function validate() {
    const text = st.tab === 'yaml' ? yamlEl.value : doc.text();
    const seq = ++st.seq;
    const local = localProblems(doc, text);
    if (local.length) return showProblems(local, seq);
    status.textContent = 'Checking…';
    try {
      const r = await api.applyYAML(fileName, text, true);
      const warnings = (r.results || []).flatMap((x) => x.warnings || []).map((w) => ({ message: w, warning: true }));
      showProblems(warnings, seq);
      return true;
    } catch (err) {
      if (err.code === 'invalid' || err.problems?.length || err.status === 400) {
        showProblems(err.problems?.length ? err.problems : [{ message: err.message, path: err.field }], seq);
        return false;
      }
      // The document is sound, but the server could not check it against its
      // environment (a cluster out of reach, a role that may not): saving may still work.
      showProblems([{ message: `Not checked against the environment: ${err.message}`, warning: true }], seq);
      return true;
    }
  }

  function showProblems(list, seq) {
    if (seq !== st.seq || st.gone) return false;
    st.problems = list;
    const errors = list.filter((p) => !p.warning);
    status.textContent = errors.length ? `${errors.length} problem${errors.length === 1 ? '' : 's'}` : 'Valid';
    status.dataset.valid = String(!errors.length);
    replace(problemsEl, list.length ? h('ul', { class: 'b-problem-list' }, list.map((p) => h('li', { class: p.warning ? 'warn' : 'error', 'data-problem-path': serverPath(p.path) },
      p.line ? h('button', { type: 'button', class: 'link-btn', onclick: () => goTo(p) }, `${p.file || fileName}:${p.line}:${p.column || 1}`) : null,
      p.line ? ': ' : '', p.message))) : null);
    markProblems(formEl, list);
    return !errors.length;
  }

  // goTo shows a problem's place in the YAML tab.
  function goTo(p) {
    show('yaml');
    const lines = yamlEl.value.split('\n');
    const start = lines.slice(0, p.line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(0, (p.column || 1) - 1);
    yamlEl.focus();
    yamlEl.setSelectionRange(start, start + (lines[p.line - 1] || '').length - Math.max(0, (p.column || 1) - 1));
  }

  async function review() {
    if (st.tab === 'yaml') takeYAML();
    const text = doc.text();
    note.textContent = '';
    if (!(await validate())) {
      note.textContent = 'Fix the problems before saving.';
      return;
    }
    const lines = lineDiff(opts.saved || '', text);
    const n = lines.filter((l) => l.op !== ' ').length;
    const dlg = h('dialog', { class: 'dlg b-diff-dlg', 'aria-labelledby': 'b-diff-title', id: 'builder-diff' },
      h('h2', { id: 'b-diff-title' }, opts.saved ? `Save as a new version · ${n} line${n === 1 ? '' : 's'} changed` : `Create ${opts.kind.toLowerCase()}`),
      h('pre', { class: 'source diff', id: 'diff' }, lines.map((l) => h('span', { class: `dl d${l.op === ' ' ? 'same' : l.op === '+' ? 'add' : 'del'}` }, `${l.op} ${l.text}`))),
      h('p', { class: 'dlg-error', role: 'alert', id: 'builder-save-error' }),
      h('div', { class: 'dlg-actions' },
        h('button', { type: 'button', class: 'btn', id: 'builder-cancel', onclick: () => { dlg.close(); dlg.remove(); } }, 'Back to editing'),
        h('button', { type: 'button', class: 'btn btn-primary', id: 'builder-confirm', disabled: n === 0, onclick: () => save(dlg, text) }, n === 0 ? 'No changes' : 'Save')));
    dlg.addEventListener('cancel', () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('.dadd, .ddel')?.scrollIntoView({ block: 'center' }); // the first change
    dlg.querySelector('#builder-cancel').focus();
  }

  async function save(dlg, text) {
    const err = dlg.querySelector('#builder-save-error');
    const bad = redactedAt(text);
    if (bad) {
      err.textContent = `${fileName}:${bad.line}:${bad.column}: the document holds ${redactedMask}, the server's mask for a secret; put a reference (env, file or secret) there instead.`;
      return;
    }
    try {
      const r = await api.applyYAML(fileName, text, false);
      const res = (r.results || [])[0] || {};
      dlg.close();
      dlg.remove();
      opts.after(res.name, res.version);
    } catch (e) {
      err.textContent = `Refused: ${e.message}`;
    }
  }

  const saveBtn = opts.canSave
    ? h('button', { type: 'button', class: 'btn btn-primary', id: 'builder-save', onclick: review }, 'Review and save…')
    : h('p', { class: 'muted', id: 'builder-readonly' }, opts.denied || 'Your roles do not allow saving.');
  replace(opts.root, h('section', { class: 'page builder', 'data-kind': opts.kind },
    h('div', { class: 'page-head' }, h('h1', {}, opts.title), h('div', { class: 'b-actions' }, status, note,
      h('button', { type: 'button', class: 'btn', id: 'builder-validate', onclick: validate }, 'Validate'), saveBtn)),
    opts.intro || null, tabs, problemsEl, formEl, yamlPanel, live));
  yamlEl.value = doc.text();
  redraw();
  schedule();
  return () => { st.gone = true; clearTimeout(st.timer); clearTimeout(st.yamlTimer); };
}

// localProblems are what the browser can tell before asking the server: YAML that
// does not parse, and a redacted placeholder where a value was.
function localProblems(doc, text) {
  const out = doc.parseErrors.map((e) => ({ file: fileName, line: e.line, column: e.column, message: e.message }));
  const bad = redactedAt(text);
  if (bad) out.push({ file: fileName, ...bad, message: `${redactedMask} is the server's mask for a secret value, not a value: use a reference (env, file or secret)` });
  return out;
}

// markProblems writes each problem next to its field: the deepest field whose path
// starts the problem's path.
function markProblems(formEl, list) {
  for (const el of formEl.querySelectorAll('[data-error-for]')) el.textContent = '';
  for (const el of formEl.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const p of list) {
    if (p.warning || !p.path) continue;
    let key = serverPath(p.path);
    while (key) {
      const slot = formEl.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
      if (slot) {
        slot.textContent = (slot.textContent ? slot.textContent + ' ' : '') + (p.line ? `line ${p.line}: ` : '') + p.message;
        formEl.querySelector(`[data-path="${CSS.escape(key)}"]`)?.setAttribute('aria-invalid', 'true');
        break;
      }
      key = key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
    }
  }
}
