// builder-list.js: reordering the builder's lists (phases, steps, variables, checks)
// by dragging an item's handle, by its Move up / Move down buttons, or from the
// keyboard with Alt+ArrowUp and Alt+ArrowDown anywhere in the item. Every move is
// announced to screen readers, and focus stays on the moved item.

import { h } from '../dom.js';
import { pathKey } from '../builder-doc.js';

let dragging = null; // { list: data-list key, from: index } while an item is dragged

/**
 * reorderable makes the items of ol (one li per sequence item of path) draggable and
 * movable from the keyboard; it returns ol.
 */
export function reorderable(ol, doc, path, redraw, announce) {
  const key = pathKey(path);
  [...ol.children].forEach((li, i) => {
    li.dataset.index = String(i);
    li.addEventListener('dragover', (e) => {
      if (dragging && dragging.list === key) { e.preventDefault(); li.classList.add('b-drop'); }
    });
    li.addEventListener('dragleave', () => li.classList.remove('b-drop'));
    li.addEventListener('drop', (e) => {
      if (!dragging || dragging.list !== key) return;
      e.preventDefault();
      e.stopPropagation();
      const from = dragging.from;
      dragging = null;
      move(doc, path, from, i, redraw, announce);
    });
    li.addEventListener('keydown', (e) => {
      if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
      if (e.target.closest('li[data-index]') !== li) return; // the innermost list moves
      e.preventDefault();
      move(doc, path, i, e.key === 'ArrowUp' ? i - 1 : i + 1, redraw, announce);
    });
    const handle = li.querySelector(':scope > .b-item-head .b-handle');
    handle?.addEventListener('dragstart', (e) => {
      dragging = { list: key, from: i };
      e.dataTransfer?.setData('text/plain', `${key}#${i}`);
      if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
      li.classList.add('b-dragging');
    });
    handle?.addEventListener('dragend', () => { dragging = null; li.classList.remove('b-dragging'); });
  });
  return ol;
}

/** listTools are an item's drag handle and its move up, move down and remove buttons. */
export function listTools(doc, path, i, n, label, redraw, announce) {
  return h('span', { class: 'b-tools' },
    h('span', { class: 'b-handle', draggable: 'true', title: `Drag to move ${label}`, 'aria-hidden': 'true' }, '⠿'),
    h('button', { type: 'button', class: 'btn btn-small', 'data-move': 'up', 'aria-label': `Move ${label} up`, disabled: i === 0,
      onclick: () => move(doc, path, i, i - 1, redraw, announce) }, '↑'),
    h('button', { type: 'button', class: 'btn btn-small', 'data-move': 'down', 'aria-label': `Move ${label} down`, disabled: i === n - 1,
      onclick: () => move(doc, path, i, i + 1, redraw, announce) }, '↓'),
    h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-remove': 'true', 'aria-label': `Remove ${label}`,
      onclick: () => { doc.remove([...path, i]); redraw(); announce(`Removed ${label}.`); } }, '✕'));
}

function move(doc, path, from, to, redraw, announce) {
  if (!doc.move(path, from, to)) return;
  const key = pathKey(path);
  const dir = to < from ? 'up' : 'down';
  redraw(`[data-list="${key}"] > li[data-index="${to}"] [data-move="${dir}"]:not([disabled]), [data-list="${key}"] > li[data-index="${to}"] [data-move]:not([disabled])`);
  announce(`Moved to position ${to + 1} of ${doc.length(path)}.`);
}
