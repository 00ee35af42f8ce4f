// attention.js: the tab's title names the page, and the title and favicon say when an
// approval waits for the person using the UI, so a tab in the background still tells.

import { api, actingAs } from './api.js';

const plainIcon = '/favicon.svg';
const dotIcon = 'data:image/svg+xml,' + encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#16233b"/>'
  + '<rect x="6" y="9" width="12" height="14" rx="2" fill="#2fa36b"/><rect x="14" y="9" width="12" height="14" rx="2" fill="#3b82f6" opacity=".9"/>'
  + '<circle cx="25" cy="7" r="6.5" fill="#e5484d" stroke="#fff" stroke-width="1.5"/></svg>');

let page = 'sluice';
let waiting = [];

/** setPageTitle names the page in the tab's title. */
export function setPageTitle(name) {
  page = name || '';
  show();
}

/** waitingForMe lists the executions whose approval the person may give now. */
export function waitingForMe() {
  return waiting.slice();
}

function show() {
  const n = waiting.length;
  const prefix = n ? `(${n}) Approval waiting · ` : '';
  document.title = prefix + (page && page !== 'sluice' ? `${page} · sluice` : 'sluice');
  const icon = document.querySelector('link[rel="icon"]');
  if (icon) icon.href = n ? dotIcon : plainIcon;
  document.documentElement.dataset.approvalWaiting = n ? String(n) : '';
}

// mine says whether a waiting execution's approval names the person (by name, or by
// naming nobody); groups are for the server to check, so they count too.
function mine(x) {
  const who = actingAs();
  const approvers = (x.progress && x.progress.approvers) || [];
  if (x.progress && x.progress.stepType && x.progress.stepType !== 'approval') return false;
  return !approvers.length || approvers.includes(who) || approvers.some((a) => a.startsWith('group:'));
}

async function poll() {
  try {
    const items = await api.executions({ status: 'waiting', limit: 100 });
    waiting = items.filter(mine).map((x) => x.id);
  } catch {
    waiting = [];
  }
  show();
}

/** watchApprovals polls for approvals waiting on the person while the page is open. */
export function watchApprovals() {
  poll();
  window.addEventListener('sluice-user', poll);
  setInterval(() => { if (!document.hidden) poll(); }, 5000);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
}
