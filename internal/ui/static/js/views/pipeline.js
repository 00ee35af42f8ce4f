// pipeline.js: the phases and steps of an execution, updated in place as it runs.

import { h, replace, badge, fmtDuration } from '../dom.js';

const icons = { succeeded: '✓', failed: '✕', running: '●', waiting: '…', paused: '‖', skipped: '↷', rolled_back: '↶', aborted: '■' };

/** Pipeline renders State.phases; click a step to select its console. */
export class Pipeline {
  constructor(el, onSelect) {
    this.el = el;
    this.onSelect = onSelect;
    this.shape = '';
    this.steps = new Map(); // key -> {node, state}
    this.selected = null;
  }

  /** update shows a new state, rebuilding only when the phases changed shape. */
  update(state, exStatus) {
    const phases = state?.phases || [];
    const shape = phases.map((p) => p.steps.map((s) => s.key).join(',')).join('|');
    if (shape !== this.shape) this.build(phases);
    this.shape = shape;
    const cur = phases[state?.phase]?.steps?.[state?.step];
    // The step the execution waits or pauses at shows that, not "running".
    const shown = (s) => (s === cur && s.status === 'running' && ['waiting', 'paused'].includes(exStatus) ? { ...s, status: exStatus } : s);
    // A phase under way reads as its execution does when that is not running (paused,
    // waiting, aborted…), so a phase never says RUNNING while nothing runs.
    const phaseShown = (p, waitsHere) => (waitsHere || (p.status === 'running' && exStatus && exStatus !== 'running') ? exStatus : p.status);
    phases.forEach((p, i) => {
      const steps = p.steps.map(shown);
      const waitsHere = steps.some((s, j) => s !== p.steps[j]);
      this.updatePhase(i, { ...p, status: phaseShown(p, waitsHere), steps });
    });
    this.updateRollback(state?.rollback);
    this.tick();
  }

  build(phases) {
    this.steps.clear();
    this.rollbackEl = h('div', { class: 'rollback-box', hidden: true });
    replace(this.el, h('ol', { class: 'phases' }, phases.map((p, i) => h('li', { class: 'phase', 'data-phase': i },
      h('div', { class: 'phase-head' }, h('span', { class: 'phase-name' }, p.name || `phase ${i + 1}`), h('span', { class: 'phase-badge' })),
      h('ol', { class: 'steps' }, p.steps.map((s) => this.buildStep(s)))))), this.rollbackEl);
  }

  buildStep(s) {
    const node = h('li', {}, h('button', { type: 'button', class: 'step', 'data-step': s.key, 'aria-pressed': 'false' },
      h('span', { class: 'step-icon', 'aria-hidden': 'true' }),
      h('span', { class: 'step-main' },
        h('span', { class: 'step-name' }, s.name), h('span', { class: 'step-type' }, s.type),
        h('span', { class: 'sr-only step-status' }),
        h('span', { class: 'step-msg' })),
      h('span', { class: 'step-meta' }, h('span', { class: 'step-dur' }), h('span', { class: 'step-attempt' }))));
    const btn = node.firstChild;
    btn.addEventListener('click', () => this.onSelect(this.selected === s.key ? null : s.key, s.name));
    this.steps.set(s.key, { btn, state: s });
    return node;
  }

  updatePhase(i, p) {
    const ph = this.el.querySelector(`[data-phase="${i}"]`);
    ph.dataset.status = p.status;
    replace(ph.querySelector('.phase-badge'), badge(p.status));
    for (const s of p.steps) this.updateStep(s);
  }

  updateStep(s) {
    const entry = this.steps.get(s.key);
    if (!entry) return;
    entry.state = s;
    const b = entry.btn;
    b.dataset.status = s.status;
    b.querySelector('.step-icon').textContent = icons[s.status] || '○';
    b.querySelector('.step-status').textContent = `, ${(s.status || 'pending').replace('_', ' ')}`; // in the accessible name
    b.querySelector('.step-msg').textContent = s.message || '';
    b.querySelector('.step-attempt').textContent = s.attempt > 1 ? `attempt ${s.attempt}` : '';
    b.title = `${s.name} (${s.type}) — ${s.status}`;
  }

  updateRollback(rb) {
    this.rollbackEl.hidden = !rb;
    if (!rb) return;
    replace(this.rollbackEl, h('div', { class: 'phase-head' }, h('span', { class: 'phase-name' }, 'Rollback'), badge(rb.status)),
      h('p', {}, rb.reason),
      h('ul', { class: 'checks' },
        h('li', { class: rb.traffic ? 'done' : '' }, rb.traffic ? '✓ ' : '… ', 'all traffic back on the live slot, read back from the router'),
        h('li', { class: rb.scaledDown ? 'done' : '' }, rb.scaledDown ? '✓ ' : '… ', 'new slot scaled down')),
      rb.needsAttention ? h('p', { class: 'error' }, rb.needsAttention) : null);
  }

  /** tick refreshes the durations, which grow while a step runs. */
  tick() {
    const now = Date.now();
    for (const { btn, state: s } of this.steps.values()) {
      if (!s.startedAt) { btn.querySelector('.step-dur').textContent = ''; continue; }
      const end = s.finishedAt ? new Date(s.finishedAt).getTime() : now;
      const running = !s.finishedAt && ['running', 'waiting'].includes(s.status);
      let text = s.finishedAt || running ? fmtDuration(end - new Date(s.startedAt).getTime()) : '';
      if (running && s.deadline) text += ` · ${fmtDuration(Math.max(0, new Date(s.deadline).getTime() - now))} left`;
      btn.querySelector('.step-dur').textContent = text;
    }
  }

  /** select marks the step whose console is shown. */
  select(key) {
    this.selected = key;
    for (const [k, { btn }] of this.steps) btn.setAttribute('aria-pressed', String(k === key));
  }

  /** step returns the state of a step by key. */
  step(key) {
    return this.steps.get(key)?.state;
  }
}
