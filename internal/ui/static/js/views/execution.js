// execution.js: one execution, live: header and slots, actions, approvals, the
// pipeline, the console and the charts, all fed by the event stream.

import { api, eventsURL } from '../api.js';
import { h, replace, badge, slotPill, fmtDateTime, terminal, link } from '../dom.js';
import { setPageTitle } from '../attention.js';
import { EventStream } from '../stream.js';
import { EventType } from '../kinds.js';
import { workflowModel, substitute, thresholds } from '../yaml.js';
import { Pipeline } from './pipeline.js';
import { Console } from './console.js';
import { Actions } from './actions.js';
import { TrafficChart, Measurements } from './charts.js';

/** executionView mounts the execution page for params[0]. */
export function executionView({ root, params, query }) {
  const page = new ExecutionPage(root, params[0], query.get('action'));
  return () => page.destroy();
}

// A change of status, step, traffic or a decision on an approval re-reads the execution.
const refreshOn = new Set([EventType.STATUS, EventType.STEP, EventType.WEIGHTS, EventType.DECISION]);

class ExecutionPage {
  constructor(root, id, action) {
    this.id = id;
    this.requested = action; // ?action=approve: a link from a notification
    this.ex = null;
    this.model = null;
    this.layout(root);
    this.refresh();
    this.stream = new EventStream(eventsURL(id), {
      onEvent: (ev) => this.onEvent(ev),
      onEnd: () => this.refresh(),
      onState: (s) => this.console.setState(s),
    }).start();
    this.ticker = setInterval(() => this.tick(), 1000);
    // Whoami may answer after the execution was drawn (a page opened on coming back
    // from single sign-on): draw the actions again with the person's roles.
    this.onUser = () => this.render();
    window.addEventListener('sluice-user', this.onUser);
  }

  layout(root) {
    const el = (id, cls) => h('div', { id, class: cls || '' });
    this.head = el('exec-head', 'exec-head');
    this.approval = el('approval', 'approval');
    this.approvals = el('approvals', 'approvals');
    const measurements = h('section', { class: 'card measurements', hidden: true },
      h('h2', {}, 'Verification'), h('div', { class: 'metric-list' }));
    const pipelineEl = el('pipeline', 'pipeline');
    const consoleEl = el('console', 'console');
    const actionsEl = el('actions-box');
    const trafficEl = el('traffic-chart');
    replace(root, h('section', { class: 'page exec' }, this.head, actionsEl, this.approval,
      h('div', { class: 'exec-grid' },
        h('section', { class: 'card' }, h('h2', {}, 'Pipeline'), pipelineEl),
        h('section', { class: 'card console-card' }, consoleEl)),
      h('div', { class: 'exec-grid charts' },
        h('section', { class: 'card' }, h('h2', {}, 'Traffic split ', h('span', { class: 'muted small' }, 'as read back from the router')), trafficEl),
        h('section', { class: 'card' }, h('h2', {}, 'Approvals'), this.approvals)),
      measurements));
    this.pipeline = new Pipeline(pipelineEl, (key, name) => this.select(key, name));
    this.console = new Console(consoleEl, this.id);
    this.console.onAll = () => this.select(null);
    this.actions = new Actions(actionsEl, this.id, () => this.refresh());
    this.traffic = new TrafficChart(trafficEl);
    this.measurements = new Measurements(measurements);
    this.measurements.thresholds = (step, metric) => thresholds(this.findSpec(step), metric);
    this.measurements.stepName = (step) => this.pipeline.step(step)?.name;
  }

  onEvent(ev) {
    this.console.add(ev);
    if (ev.type === EventType.WEIGHTS) { this.traffic.add(ev); this.measurements.addMove(ev); }
    if (ev.type === EventType.MEASUREMENT) { this.measurements.add(ev); if (this.ex?.status === 'waiting') this.renderApproval(this.ex); }
    if (refreshOn.has(ev.type)) this.scheduleRefresh();
  }

  scheduleRefresh() {
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = 0; this.refresh(); }, 200);
  }

  async refresh() {
    try {
      const ex = await api.execution(this.id);
      // Answers can overtake each other; the record version says which is newer.
      if (this.destroyed || (this.ex && ex.version < this.ex.version)) return;
      this.ex = ex;
      if (!this.model) this.loadModel(ex);
      this.render();
    } catch (err) {
      if (this.ex) return; // keep what is shown; the stream and the next event retry
      if (err.status === 404) this.stream.close();
      replace(this.head, h('h1', {}, 'Execution ', h('code', {}, this.id)), h('p', { class: 'error' }, err.message));
    }
  }

  // loadModel reads the workflow version the execution runs, for approval messages
  // and approvers, which the state does not carry.
  async loadModel(ex) {
    this.model = { phases: [] };
    try {
      const def = await api.workflowVersion(ex.workflow, ex.workflowVersion);
      this.model = workflowModel(def.source);
      this.render();
      this.measurements.redrawAll();
    } catch { /* the page works without it */ }
  }

  render() {
    const ex = this.ex;
    if (!ex || this.destroyed) return;
    this.renderHead(ex);
    this.actions.update(ex);
    this.pipeline.update(ex.state, ex.status);
    this.measurements.renameSteps();
    this.renderApproval(ex);
    this.renderApprovals(ex.state || {});
    this.offerRequested();
  }

  // offerRequested opens the dialog of an action asked for in the link, once.
  offerRequested() {
    const name = this.requested;
    if (!name) return;
    this.requested = null;
    history.replaceState(null, '', location.pathname);
    if (!this.actions.offers(name)) {
      this.actions.show('error', `The link asks to ${name}, but the execution is ${this.ex.status.replace('_', ' ')}: that is not possible now.`);
      return;
    }
    this.actions.run(name);
  }

  renderHead(ex) {
    const st = ex.state || {};
    setPageTitle(`${ex.workflow} ${ex.id} · ${ex.status.replace('_', ' ')}`);
    const live = st.promoted ? st.newSlot : st.liveSlot;
    const w = st.weights;
    replace(this.head,
      h('div', { class: 'exec-title' },
        h('h1', {}, link(`/workflows/${encodeURIComponent(ex.workflow)}`, ex.workflow), h('span', { class: 'muted' }, ` v${ex.workflowVersion}`)),
        h('span', { id: 'exec-status', class: 'exec-status' }, badge(ex.status))),
      h('p', { class: 'meta' }, h('code', {}, ex.id), ` · ${ex.service} in ${ex.environment} · started by ${ex.startedBy || 'anonymous'} · ${fmtDateTime(ex.createdAt)} · `,
        link(`/executions/${encodeURIComponent(ex.id)}/report`, 'Release report')),
      ex.reason ? h('p', { class: `reason st-${ex.status}` }, ex.reason) : null,
      h('div', { class: 'slots', id: 'slots' },
        // A finished execution says what it left live, not what is live now: that is the
        // service page's read-back.
        terminal(ex.status)
          ? [h('span', { class: 'slot-live', id: 'live-slot' }, slotPill(live, 'Left live')),
            link(`/services/${encodeURIComponent(ex.environment)}/${encodeURIComponent(ex.service)}`, 'What is live now')]
          : h('span', { class: 'slot-live', id: 'live-slot' }, slotPill(live, 'Live')),
        st.newSlot && !st.promoted && !terminal(ex.status) ? slotPill(st.newSlot, 'Staging') : null,
        w ? splitBar(w) : null),
      variables(ex.variables));
  }

  renderApproval(ex) {
    const step = ex.status === 'waiting' ? currentStep(ex.state) : null;
    this.approval.hidden = !step || step.type !== 'approval';
    if (this.approval.hidden) return;
    const spec = this.findSpec(step.key)?.body || {};
    replace(this.approval, h('div', { class: 'approval-box' },
      h('strong', {}, `Waiting for approval: ${step.name}`),
      spec.message ? h('p', {}, substitute(spec.message, ex.variables)) : null,
      this.evidence(step.key),
      spec.approvers ? h('p', { class: 'muted' }, 'Approvers: ', [].concat(spec.approvers).map((a) => substitute(a, ex.variables)).join(', ')) : null));
  }

  // evidence lists the latest verdict of each metric verified in the approval's
  // phase so far, in the server's plain words.
  evidence(key) {
    const phase = /^p\d+\./.exec(key || '')?.[0];
    const latest = phase ? this.measurements.latest(phase) : [];
    if (!latest.length) return h('p', { class: 'muted evidence-none' }, 'No verification has run in this phase yet: there is no evidence to show.');
    return h('div', { class: 'evidence-box' }, h('p', { class: 'small muted' }, 'Evidence so far in this phase (latest verdict of each metric):'),
      h('ul', { class: 'evidence' }, latest.map(({ step, m }) => h('li', { class: `v-${m.verdict}`, 'data-metric': m.metric },
        h('strong', {}, `${this.pipeline.step(step)?.name || step}: `),
        m.summary?.text || [m.metric, m.verdict, m.reason, m.error].filter(Boolean).join(' — ')))));
  }

  findSpec(key) {
    const m = /^p(\d+)\.s(\d+)$/.exec(key || '');
    return m ? this.model?.phases?.[m[1] - 1]?.steps?.[m[2] - 1] : null;
  }

  renderApprovals(st) {
    const list = st.approvals || [];
    if (!list.length) { replace(this.approvals, h('p', { class: 'muted' }, 'No decisions yet.')); return; }
    replace(this.approvals, h('ul', { class: 'decisions' }, list.map((a) => h('li', { class: a.approve ? 'ok' : 'bad' },
      h('strong', {}, a.timeout ? 'Timed out' : a.approve ? 'Approved' : 'Rejected'),
      ` by ${a.by || 'anonymous'} · ${this.pipeline.step(a.step)?.name || a.step} · ${fmtDateTime(a.at)}`,
      a.comment ? h('q', {}, a.comment) : null))));
  }

  select(key, name) {
    this.pipeline.select(key);
    this.console.setStep(key, name);
  }

  tick() {
    this.pipeline.tick();
    this.traffic.tick(this.ex ? !terminal(this.ex.status) : true);
  }

  destroy() {
    this.destroyed = true;
    window.removeEventListener('sluice-user', this.onUser);
    this.stream.close();
    clearInterval(this.ticker);
    clearTimeout(this.pending);
    this.traffic.destroy();
    this.measurements.destroy();
  }
}

function currentStep(st) {
  return st?.phases?.[st.phase]?.steps?.[st.step] || null;
}

// splitBar draws the confirmed split; widths go through CSSOM, which a strict CSP allows.
function splitBar(w) {
  const green = h('span', { class: 'split-green' });
  const blue = h('span', { class: 'split-blue' });
  green.style.flexGrow = String(w.green);
  blue.style.flexGrow = String(w.blue);
  return h('span', { class: 'split', title: `green ${w.green}% · blue ${w.blue}%` },
    h('span', { class: 'split-bar' }, green, blue),
    h('span', { class: 'split-text' }, `green ${w.green}% · blue ${w.blue}%`));
}

function variables(vars) {
  const entries = Object.entries(vars || {});
  if (!entries.length) return null;
  return h('ul', { class: 'vars', 'aria-label': 'Variables' },
    entries.map(([k, v]) => h('li', {}, h('span', { class: 'muted' }, `${k} = `), h('code', {}, v))));
}
