// report.js: the one-page release report of an execution (GET …/report): what
// ran, the rollback's cause and time to 100/0, every verdict in plain words,
// approvals, traffic moves and steps; downloadable as Markdown.

import { api, reportMarkdown } from '../api.js';
import { h, replace, badge, fmtDateTime, fmtDuration, link } from '../dom.js';

/** reportView mounts the report page for params[0]. */
export function reportView({ root, params }) {
  const id = params[0];
  let gone = false;
  replace(root, h('section', { class: 'page report' }, h('h1', {}, 'Release report'), h('p', { class: 'muted' }, 'Loading…')));
  api.report(id).then((r) => { if (!gone) render(root, r); }).catch((err) => {
    if (!gone) replace(root, h('section', { class: 'page report' }, h('h1', {}, 'Release report'), h('p', { class: 'error' }, err.message)));
  });
  return () => { gone = true; };
}

function render(root, r) {
  const back = `/executions/${encodeURIComponent(r.id)}`;
  replace(root, h('section', { class: 'page report', id: 'report' },
    h('div', { class: 'exec-title' },
      h('h1', {}, 'Release report: ', link(back, `${r.workflow} v${r.workflowVersion}`), h('span', { class: 'muted' }, ` in ${r.environment}`)),
      h('span', { class: 'exec-status' }, badge(r.status))),
    h('p', {}, h('button', { type: 'button', class: 'btn btn-small', id: 'report-md', onclick: () => download(r.id) }, 'Download Markdown'),
      ' ', link(back, 'Back to the execution')),
    facts(r), rollback(r.rollback), verdicts(r.verdicts || []), approvals(r.approvals || []), traffic(r.traffic || []), steps(r.steps || []),
    h('p', { class: 'muted small' }, `Generated ${fmtDateTime(r.generated)}.`)));
}

function table(head, rows, cls) {
  return h('table', { class: cls || '' }, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.map((row) => h('tr', { class: row.cls || '' }, row.cells.map((c) => h('td', {}, c))))));
}

function facts(r) {
  const vars = Object.entries(r.variables || {}).map(([k, v]) => `${k}=${v}`).join(', ');
  let outcome = (r.status || '').replace('_', ' ');
  if (r.reason) outcome += `: ${r.reason}`;
  if (r.ended) outcome += ` (after ${fmtDuration(new Date(r.ended) - new Date(r.started))})`;
  const rows = [
    ['Execution', h('code', {}, r.id)], ['Workflow', `${r.workflow} v${r.workflowVersion}`],
    ['Environment', `${r.environment} v${r.environmentVersion}`], ['Service', r.service],
    ['Started by', `${r.startedBy || 'anonymous'} at ${fmtDateTime(r.started)}`],
    vars ? ['Variables', vars] : null,
    r.liveSlot || r.newSlot ? ['Slots', `live ${r.liveSlot || '-'}, new ${r.newSlot || '-'}`] : null,
    ['Outcome', outcome],
  ].filter(Boolean);
  return h('table', { class: 'facts' }, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))));
}

function rollback(rb) {
  if (!rb) return null;
  const items = [['Cause', rb.cause]];
  if (rb.step) items.push(['Failed step', `${rb.stepName || rb.step} (${rb.step})`]);
  if (rb.evidence) items.push(['Evidence', `${rb.evidence}, measured at ${fmtDateTime(rb.evidenceAt)}`]);
  if (rb.began) items.push(['Rollback began', fmtDateTime(rb.began)]);
  let full;
  if (rb.timeTo100) {
    full = h('span', {}, h('span', { class: 'big', id: 'time-to-100' }, fmtDuration(rb.timeTo100.ms)),
      ` — the router confirmed 100% on ${rb.liveSlot} at ${fmtDateTime(rb.restored)}`,
      rb.sinceEvidence ? `, ${fmtDuration(rb.sinceEvidence.ms)} after the failing measurement` : '');
  } else {
    full = rb.liveSlot ? `not confirmed: no read-back of 100% on ${rb.liveSlot} was recorded` : 'none: a first release has no live slot to send traffic back to';
  }
  items.push(['Time to 100/0', full], ['Rollback status', (rb.status || '').replace('_', ' ')]);
  if (rb.needsAttention) items.push(['Needs a person', rb.needsAttention]);
  return h('div', { id: 'report-rollback' }, h('h2', {}, 'Rollback'),
    h('table', { class: 'facts' }, h('tbody', {}, items.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))));
}

function verdicts(vs) {
  if (!vs.length) return [h('h2', {}, 'Verdicts'), h('p', { class: 'muted' }, 'No verification ran.')];
  return [h('h2', {}, 'Verdicts'), table(['Step', 'Metric', 'Verdict', 'Measurements', 'In words'], vs.map((v) => ({
    cls: `v-${v.verdict}`,
    cells: [v.stepName || v.step, v.metric, h('span', { class: `chip v-${v.verdict}` }, v.verdict),
      `${v.measurements} (${v.failed} failed, ${v.inconclusive} inconclusive, ${v.errors} errors)`, v.text],
  })), 'verdicts')];
}

function approvals(as) {
  if (!as.length) return [h('h2', {}, 'Approvals'), h('p', { class: 'muted' }, 'No approval was asked for or given.')];
  return [h('h2', {}, 'Approvals'), table(['Step', 'Decision', 'By', 'When', 'Why'], as.map((a) => ({
    cells: [a.stepName || a.step, (a.approve ? 'approved' : 'rejected') + (a.timeout ? ' (timeout)' : ''), a.by, fmtDateTime(a.at), a.comment || '-'],
  })))];
}

function traffic(ms) {
  if (!ms.length) return [h('h2', {}, 'Traffic'), h('p', { class: 'muted' }, 'Traffic never moved.')];
  return [h('h2', {}, 'Traffic'), table(['When', 'Step', 'green', 'blue'], ms.map((m) => ({
    cells: [fmtDateTime(m.at), m.stepName || m.step || '-', `${m.green}%`, `${m.blue}%`],
  })))];
}

function steps(ss) {
  return [h('h2', {}, 'Steps'), table(['Phase', 'Step', 'Type', 'Status', 'Started', 'Took', 'Message'], ss.map((s) => ({
    cells: [s.phase, s.name, s.type, badge(s.status), s.started ? fmtDateTime(s.started) : '-',
      s.started && s.finished ? fmtDuration(new Date(s.finished) - new Date(s.started)) : '-', s.message || '-'],
  })))];
}

async function download(id) {
  const text = await reportMarkdown(id);
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/markdown' })), download: `sluice-${id}-report.md` });
  document.body.append(a);
  a.click();
  a.remove();
}
