// actions.js: what a person can do to an execution, each behind a confirmation, with
// the server's answer shown (its own message when it refuses).

import { api, actingAs } from '../api.js';
import { h, replace } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { mayAct, rolesText } from '../session.js';

const catalogue = {
  approve: { label: 'Approve', cls: 'btn-primary', comment: 'optional', done: 'Approval recorded', ask: 'Approve the waiting step? The execution continues to its next step.' },
  reject: { label: 'Reject', cls: 'btn-danger', comment: 'required', done: 'Rejection recorded', ask: 'Reject the waiting step? The execution takes its failure path (usually a rollback).' },
  rollback: { label: 'Roll back', cls: 'btn-danger', comment: 'optional', field: 'reason', done: 'Rollback requested', ask: 'Roll back now? All traffic goes back to the live slot and the new slot is scaled down.' },
  abort: { label: 'Abort', cls: 'btn-danger', comment: 'optional', field: 'reason', done: 'Abort requested', ask: 'Abort where it is, without rolling back? Traffic stays as it is now.' },
  pause: { label: 'Pause', cls: '', done: 'Pause requested', ask: 'Pause before the next step?' },
  resume: { label: 'Resume', cls: 'btn-primary', done: 'Resume requested', ask: 'Resume the execution? After a failure this skips the failed step.' },
  retry: { label: 'Retry step', cls: 'btn-primary', done: 'Retry requested', ask: 'Run the failed step again?' },
  // After a failure Resume skips the failed step: offered second, not highlighted, and says so.
  skip: { label: 'Skip failed step and resume', cls: '', verb: 'resume', done: 'Resume requested (the failed step is skipped)', ask: 'Skip the failed step and continue with the next one? Nothing checks what the failed step was meant to check.' },
};

const byStatus = {
  pending: ['pause', 'rollback', 'abort'],
  running: ['pause', 'rollback', 'abort'],
  waiting: ['approve', 'reject', 'pause', 'rollback', 'abort'],
  paused: ['resume', 'retry', 'rollback', 'abort'],
  rolling_back: ['abort'],
};

/** Actions renders the buttons an execution's status allows and runs them. */
export class Actions {
  constructor(el, id, onDone) {
    this.id = id;
    this.onDone = onDone;
    this.bar = h('div', { class: 'actions', id: 'actions' });
    this.result = h('p', { class: 'action-result', id: 'action-result', role: 'status', 'aria-live': 'polite' });
    replace(el, this.bar, this.result);
    this.key = '';
  }

  /** update shows the actions for an execution's status. */
  update(ex) {
    let names = byStatus[ex.status] || [];
    const state = ex.state || {};
    if (ex.status === 'paused' && state.pausedFor !== 'failure') names = names.filter((n) => n !== 'retry');
    // After a failed step, Retry is the primary action; Resume (which skips it) comes second.
    if (ex.status === 'paused' && state.pausedFor === 'failure') names = ['retry', 'skip', 'rollback', 'abort'];
    this.env = ex.environment;
    const key = names.join(',') + '|' + actingAs() + '|' + rolesText();
    if (key === this.key) return;
    this.key = key;
    replace(this.bar, names.length ? names.map((n) => this.button(n)) : h('span', { class: 'muted' }, 'No actions: the execution has finished.'));
  }

  /** offers says whether the execution's status allows an action now. */
  offers(name) {
    const names = this.key.split('|')[0].split(',');
    return names.includes(name) || (name === 'resume' && names.includes('skip'));
  }

  button(name) {
    const a = catalogue[name];
    const need = name === 'approve' || name === 'reject' ? 'approver' : 'deployer';
    const denied = !mayAct(this.env, need);
    return h('button', {
      type: 'button', class: `btn ${a.cls}${denied ? ' btn-denied' : ''}`, 'data-action': name, 'data-denied': denied,
      title: denied ? `Needs ${need} in ${this.env}; you have ${rolesText()}. The server decides if you try.` : null,
      onclick: () => this.run(name),
    }, a.label);
  }

  async run(name) {
    const a = catalogue[name];
    const who = actingAs();
    const { ok, comment } = await confirmDialog({
      title: `${a.label} · ${this.id}`, message: `${a.ask} You act as “${who}”.`,
      confirm: a.label, danger: a.cls === 'btn-danger', comment: a.comment,
      commentLabel: a.field === 'reason' ? 'Reason (optional)' : undefined,
    });
    if (!ok) return;
    const body = a.comment ? { [a.field || 'comment']: comment } : undefined;
    this.show('pending', `${a.label}…`);
    try {
      const r = await api.act(this.id, a.verb || name, body);
      this.show('ok', `${a.done} by ${r.by}.`);
    } catch (err) {
      this.show('error', `${a.label} refused: ${err.message}`, err.code);
    }
    this.onDone();
  }

  show(kind, text, code) {
    this.result.dataset.kind = kind;
    const showCode = code && !text.includes(code);
    replace(this.result, text, showCode ? h('code', { class: 'code' }, code) : null);
  }
}
