// dialog.js: the confirmation dialog every action goes through.

import { h } from './dom.js';

/**
 * confirmDialog asks before an action. opts: title, message, confirm (button label),
 * danger (red button), comment ('optional' | 'required' | undefined), commentLabel.
 * Resolves to {ok, comment}.
 */
export function confirmDialog(opts) {
  return new Promise((resolve) => {
    const dlg = buildDialog(opts);
    document.body.append(dlg);
    const done = (ok) => {
      const comment = dlg.querySelector('textarea')?.value.trim() || '';
      if (ok && opts.comment === 'required' && !comment) {
        dlg.querySelector('.dlg-error').textContent = 'A comment is required.';
        return;
      }
      dlg.close();
      dlg.remove();
      resolve({ ok, comment });
    };
    dlg.querySelector('#confirm-ok').addEventListener('click', () => done(true));
    dlg.querySelector('#confirm-cancel').addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    dlg.showModal();
    (dlg.querySelector('textarea') || dlg.querySelector('#confirm-cancel')).focus();
  });
}

function buildDialog(opts) {
  const comment = opts.comment
    ? h('label', { class: 'field' },
      h('span', {}, opts.commentLabel || (opts.comment === 'required' ? 'Comment (required)' : 'Comment (optional)')),
      h('textarea', { id: 'confirm-comment', rows: 3, maxlength: 2000 }))
    : null;
  return h('dialog', { class: 'dlg', 'aria-labelledby': 'dlg-title' },
    h('h2', { id: 'dlg-title' }, opts.title),
    h('p', { class: 'dlg-msg' }, opts.message),
    comment,
    h('p', { class: 'dlg-error', role: 'alert' }),
    h('div', { class: 'dlg-actions' },
      h('button', { type: 'button', id: 'confirm-cancel', class: 'btn' }, 'Cancel'),
      h('button', { type: 'button', id: 'confirm-ok', class: opts.danger ? 'btn btn-danger' : 'btn btn-primary' }, opts.confirm || 'Confirm')));
}
