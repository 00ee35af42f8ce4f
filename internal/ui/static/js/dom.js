// dom.js: building elements safely (text is always text, never HTML) and formatting.

/** h creates an element; attrs "on…" functions become listeners, children become text or nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** append adds children (strings, numbers, nodes, nested arrays) to el. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** clear removes every child of el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** replace swaps the children of el for new ones. */
export function replace(el, ...children) {
  return append(clear(el), children);
}

/** fmtClock shows a timestamp as HH:MM:SS in local time. */
export function fmtClock(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** fmtDateTime shows a timestamp as a short local date and time. */
export function fmtDateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + fmtClock(iso);
}

/** fmtAgo says how long ago a timestamp was. */
export function fmtAgo(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** fmtDuration shows milliseconds as 850ms, 12s, 3m 05s or 2h 10m. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

const statusLabels = { rolling_back: 'rolling back', rolled_back: 'rolled back' };

/** badge renders an execution, phase or step status. */
export function badge(status) {
  const s = status || 'pending';
  return h('span', { class: `badge st-${s}`, 'data-status': s }, statusLabels[s] || s);
}

/** slotPill renders a slot name with its colour. */
export function slotPill(slot, label) {
  if (!slot) return h('span', { class: 'slot slot-none' }, label ? `${label}: none yet` : 'none');
  return h('span', { class: `slot slot-${slot}` }, h('span', { class: 'dot' }), label ? `${label}: ${slot}` : slot);
}

/** terminal says whether an execution status is final. */
export function terminal(status) {
  return ['succeeded', 'failed', 'rolled_back', 'aborted'].includes(status);
}

/** link renders an in-app link. */
export function link(href, ...children) {
  return h('a', { href }, ...children);
}
