// pipelines.js: pipeline runs. The list (/pipelines) and one run (/pipelines/runs/ID)
// shown as one release across environments: its stages in columns (stages that run in
// parallel side by side), each with its status, gates and a link to its execution, and
// an approve/reject button on a gate that waits for people. A run's page follows the
// run's event stream and reloads the run on each event; the list polls.

import { api, pipelineEventsURL } from '../api.js';
import { h, replace, badge, fmtAgo, fmtClock, link, terminal } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { mayAct } from '../session.js';
import { EventStream } from '../stream.js';

const stageStatus = { gated: 'waiting', starting: 'pending', undoing: 'rolling_back', undone: 'rolled_back', undo_failed: 'failed' };

/** pipelinesView mounts the list of pipeline runs. */
export function pipelinesView({ root }) {
  const tbody = h('tbody');
  const note = h('p', { class: 'muted list-note', role: 'status' });
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Pipelines')),
    h('p', { class: 'muted' }, 'Each run moves one release through its environments. Start one with ', h('code', {}, 'sluice pipeline run NAME --var artifact=…'), '.'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'list', id: 'pipeline-runs' },
      h('thead', {}, h('tr', {}, ['Run', 'Pipeline', 'Status', 'Stages', 'Started by', 'Started'].map((c) => h('th', { scope: 'col' }, c)))),
      tbody)),
    note));
  const refresh = async () => {
    try {
      const runs = await api.pipelineRuns({ limit: 100 });
      replace(tbody, runs.map((r) => h('tr', { 'data-id': r.id },
        h('td', { 'data-label': 'Run' }, link(`/pipelines/runs/${encodeURIComponent(r.id)}`, h('code', {}, r.id))),
        h('td', { 'data-label': 'Pipeline' }, r.pipeline, h('span', { class: 'muted' }, ` v${r.pipelineVersion}`)),
        h('td', { 'data-label': 'Status' }, badge(r.status)),
        h('td', { 'data-label': 'Stages' }, r.stages.map((s) => h('span', { class: 'stage-chip', title: s.status }, badge(stageStatus[s.status] || s.status), ' ', s.name, ' '))),
        h('td', { 'data-label': 'Started by' }, r.startedBy || 'anonymous'),
        h('td', { 'data-label': 'Started', title: r.createdAt }, fmtAgo(r.createdAt)))));
      replace(note, runs.length ? `${runs.length} shown · refreshed ${new Date().toLocaleTimeString()}` : 'No pipeline runs yet.');
    } catch (err) {
      replace(note, h('span', { class: 'error' }, err.message));
    }
  };
  return poll(refresh, 3000);
}

/** pipelineRunView mounts one run. */
export function pipelineRunView({ root, params }) {
  const id = params[0];
  const head = h('div', { class: 'page-head' });
  const lanes = h('ol', { class: 'pipeline-lanes', id: 'pipeline-stages', 'aria-label': 'Stages' });
  const log = h('ol', { class: 'pipeline-log', id: 'pipeline-log' });
  const result = h('p', { class: 'action-result', id: 'action-result', role: 'status', 'aria-live': 'polite' });
  replace(root, h('section', { class: 'page' }, head, result, lanes, h('h2', {}, 'Log'), log));
  let last = '';
  const refresh = coalesced(async () => {
    try {
      const run = await api.pipelineRun(id);
      const key = JSON.stringify(run);
      if (key === last) return;
      last = key;
      document.title = `${run.pipeline} ${run.id} · sluice`;
      renderHead(head, run);
      renderLanes(lanes, run, (stage, approve) => decide(run, stage, approve, result, refresh));
      replace(log, (run.log || []).map((l) => h('li', { class: `log-${l.level}` }, h('time', { datetime: l.at }, fmtClock(l.at)), ' ', l.message)));
    } catch (err) {
      replace(result, h('span', { class: 'error' }, err.message));
    }
  });
  refresh();
  // every line of the run's log is an event; each one reloads the run
  const stream = new EventStream(pipelineEventsURL(id), { onEvent: refresh, onEnd: refresh }).start();
  return () => stream.close();
}

// coalesced runs fn once for any number of calls made while it runs, and then once
// more, so a burst of events (a stream's backlog) costs two loads, not one each.
function coalesced(fn) {
  let running = null;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await fn();
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
}

function poll(fn, every) {
  let stopped = false;
  fn();
  const timer = setInterval(() => { if (!stopped && !document.hidden) fn(); }, every);
  return () => { stopped = true; clearInterval(timer); };
}

function renderHead(head, run) {
  const artifact = run.variables?.artifact;
  replace(head,
    h('h1', {}, `${run.pipeline} `, h('code', {}, run.id)),
    h('div', { class: 'pipeline-summary' },
      h('span', { id: 'pipeline-status' }, badge(run.status)),
      artifact ? h('span', {}, ' release ', h('code', {}, artifact)) : null,
      h('span', { class: 'muted' }, ` · started by ${run.startedBy || 'anonymous'} ${fmtAgo(run.createdAt)}`),
      run.reason ? h('p', { class: 'muted', id: 'pipeline-reason' }, run.reason) : null));
}

// depth places a stage in the column after the deepest stage it comes after.
function depths(stages) {
  const byName = Object.fromEntries(stages.map((s) => [s.name, s]));
  const memo = {};
  const depth = (s) => {
    if (memo[s.name] !== undefined) return memo[s.name];
    memo[s.name] = 0;
    memo[s.name] = Math.max(-1, ...(s.needs || []).map((n) => (byName[n] ? depth(byName[n]) : -1))) + 1;
    return memo[s.name];
  };
  return stages.map(depth);
}

function renderLanes(lanes, run, onDecide) {
  const d = depths(run.stages);
  const columns = [];
  run.stages.forEach((s, i) => { (columns[d[i]] ||= []).push(s); });
  replace(lanes, columns.map((col, i) => h('li', { class: 'pipeline-lane', 'aria-label': `Step ${i + 1}` },
    h('ul', { class: 'pipeline-column' }, col.map((s) => stageCard(run, s, onDecide))))));
}

function stageCard(run, s, onDecide) {
  const gate = s.status === 'gated' ? s.gates?.[s.gate] : null;
  const waitsForPeople = gate?.kind === 'approval' && !terminal(run.status);
  return h('li', { class: 'card pipeline-stage', 'data-stage': s.name, 'data-status': s.status },
    h('div', { class: 'stage-head' }, h('h3', {}, s.name), badge(stageStatus[s.status] || s.status)),
    h('p', { class: 'muted' }, `${s.workflow} in `, h('strong', {}, s.environment)),
    s.variables?.artifact ? h('p', {}, h('code', {}, s.variables.artifact)) : null,
    (s.gates || []).length ? h('ul', { class: 'stage-gates' }, s.gates.map((g, i) => h('li', { 'data-gate': g.kind },
      g.passed ? '✓ ' : (s.status === 'gated' && i === s.gate ? '… ' : '· '),
      g.kind === 'approval' ? `approval by ${g.approvers.join(', ')}` : (g.kind === 'verify' ? 'verification of the stages before' : `soak ${g.soak}`),
      g.message ? h('span', { class: 'muted' }, ` — ${g.message}`) : null))) : null,
    s.execution ? h('p', {}, 'Execution ', link(`/executions/${encodeURIComponent(s.execution)}`, h('code', {}, s.execution))) : null,
    s.undoExecution ? h('p', {}, 'Undone by ', link(`/executions/${encodeURIComponent(s.undoExecution)}`, h('code', {}, s.undoExecution))) : null,
    s.reason ? h('p', { class: 'muted stage-reason' }, s.reason) : null,
    waitsForPeople ? h('div', { class: 'card-actions' },
      decideButton(s, true, onDecide), decideButton(s, false, onDecide)) : null);
}

function decideButton(s, approve, onDecide) {
  const denied = !mayAct(s.environment, 'approver');
  return h('button', {
    type: 'button', class: `btn ${approve ? 'btn-primary' : 'btn-danger'}${denied ? ' btn-denied' : ''}`,
    'data-action': approve ? 'approve' : 'reject', 'data-denied': denied,
    title: denied ? `You need the approver role in ${s.environment}` : null,
    onclick: () => onDecide(s, approve),
  }, approve ? 'Approve' : 'Reject');
}

async function decide(run, s, approve, result, refresh) {
  const { ok, comment } = await confirmDialog({
    title: `${approve ? 'Approve' : 'Reject'} stage ${s.name}?`,
    message: approve
      ? `Stage ${s.name} then releases ${run.variables?.artifact || 'the release'} to ${s.environment}.`
      : `Stage ${s.name} fails and the run winds down as the pipeline says.`,
    confirm: approve ? 'Approve' : 'Reject', danger: !approve, comment: approve ? 'optional' : 'required',
  });
  if (!ok) return;
  try {
    await api.pipelineDecide(run.id, approve ? 'approve' : 'reject', { stage: s.name, comment });
    replace(result, approve ? 'Approval recorded' : 'Rejection recorded');
  } catch (err) {
    replace(result, h('span', { class: 'error' }, err.message));
  }
  refresh();
}
