// audit.js: the audit log for admins: who did what, where and when, filtered by the
// server and read a page at a time, newest first.

import { api } from '../api.js';
import { h, replace, fmtDateTime } from '../dom.js';

const filterNames = ['actor', 'action', 'environment', 'outcome', 'since', 'until'];
const defaultPageSize = 50;

/** auditView mounts the audit log; the server refuses it to anyone but an admin. */
export function auditView({ root, query, navigate }) {
  const filters = Object.fromEntries(filterNames.map((k) => [k, query.get(k) || '']));
  const before = query.get('before') || '';
  const pageSize = Math.min(1000, Number(query.get('limit')) || defaultPageSize);
  const back = (query.get('back') || '').split(',').filter(Boolean); // cursors of the earlier pages
  const tbody = h('tbody');
  const note = h('p', { class: 'muted list-note', role: 'status' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Audit log pages' });
  const limit = query.get('limit') || '';
  const go = (f, cursor, stack) => navigate('/audit?' + new URLSearchParams(clean({ ...f, limit, before: cursor, back: stack.join(',') })));
  const form = filterForm(filters, (f) => go(f, '', []));
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Audit log'),
      h('span', { class: 'muted small' }, 'Every state-changing request, allowed or refused, newest first. ', h('code', {}, 'sluice audit'), ' exports it.')),
    form,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list', id: 'audit' },
      h('caption', { class: 'sr-only' }, 'Audit log entries'), tableHead(), tbody)),
    pager, note));
  load(filters, before, pageSize).then((page) => {
    renderRows(tbody, page.items);
    const first = back.length * pageSize + 1;
    replace(note, page.items.length ? `Entries ${first}–${first + page.items.length - 1}` : 'No entries match.');
    replace(pager,
      back.length ? h('button', { type: 'button', class: 'btn btn-small', id: 'audit-prev', onclick: () => go(filters, back[back.length - 1], back.slice(0, -1)) }, '← Previous page') : null,
      page.next ? h('button', { type: 'button', class: 'btn btn-small', id: 'audit-next', onclick: () => go(filters, page.next, [...back, before || '0']) }, 'Next page →') : null);
  }).catch((err) => {
    replace(tbody);
    replace(note, h('span', { class: 'error', id: 'audit-error', role: 'alert' }, err.status === 403 ? `Only admins may read the audit log: ${err.message}` : err.message));
  });
}

function load(filters, before, pageSize) {
  const q = { ...clean(filters), order: 'newest', before: before === '0' ? '' : before, limit: String(pageSize) };
  for (const k of ['since', 'until']) if (q[k] && /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(q[k])) q[k] = new Date(q[k]).toISOString();
  return api.audit(q);
}

function clean(f) {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v));
}

function filterForm(filters, apply) {
  const text = (name, label, placeholder) => h('label', { class: 'field' }, h('span', {}, label),
    h('input', { name, value: filters[name], placeholder, spellcheck: 'false' }));
  const time = (name, label) => h('label', { class: 'field' }, h('span', {}, label),
    h('input', { name, type: 'datetime-local', value: filters[name] }));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the audit log' },
    text('actor', 'Who', 'anyone'),
    text('action', 'What', 'any action, e.g. approve'),
    text('environment', 'Environment', 'any'),
    h('label', { class: 'field' }, h('span', {}, 'Outcome'),
      h('select', { name: 'outcome' }, ['', 'ok', 'denied', 'failed'].map((o) => h('option', { value: o, selected: filters.outcome === o }, o || 'any')))),
    time('since', 'From'), time('until', 'Until'),
    h('div', { class: 'field field-button' }, h('span', { 'aria-hidden': 'true' }, ' '), h('button', { type: 'submit', class: 'btn' }, 'Filter')));
  const read = () => Object.fromEntries(filterNames.map((k) => [k, form.elements[k].value.trim()]));
  form.addEventListener('submit', (e) => { e.preventDefault(); apply(read()); });
  form.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT') apply(read()); });
  return form;
}

function tableHead() {
  return h('thead', {}, h('tr', {},
    ['When', 'Who', 'What', 'Target', 'Environment', 'Outcome', 'Summary'].map((c) => h('th', { scope: 'col' }, c))));
}

function renderRows(tbody, items) {
  replace(tbody, items.map((e) => h('tr', { 'data-seq': e.seq },
    h('td', { 'data-label': 'When', title: e.at }, fmtDateTime(e.at)),
    h('td', { 'data-label': 'Who' }, e.actor || 'anonymous', e.method ? h('span', { class: 'small muted' }, ` (${e.method})`) : null),
    h('td', { 'data-label': 'What' }, h('code', {}, e.action)),
    h('td', { 'data-label': 'Target' }, e.target),
    h('td', { 'data-label': 'Environment' }, e.environment || ''),
    h('td', { 'data-label': 'Outcome' }, h('span', { class: `outcome o-${e.outcome}` }, e.outcome), e.count > 1 ? ` ×${e.count}` : ''),
    h('td', { 'data-label': 'Summary', class: 'summary' }, e.summary))));
}
