// environments.js: each environment's platform, router and providers, and which
// slot of each of its services is live.

import { api, actingAs } from '../api.js';
import { h, replace, slotPill, fmtAgo, link } from '../dom.js';
import { environmentModel } from '../yaml.js';
import { confirmDialog } from '../dialog.js';
import { mayAct, rolesText } from '../session.js';
import { editButton } from './builder-roles.js';

/** environmentsView mounts the environments page. */
export function environmentsView({ root, navigate }) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('section', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Environments'), editButton('/environments/new', '*', 'New environment')), body));
  load(body, navigate).catch((err) => replace(body, h('p', { class: 'error' }, err.message)));
}

async function load(body, navigate) {
  const [list, services] = await Promise.all([api.environments(), api.services()]);
  const defs = await Promise.all(list.filter((d) => !d.deleted).map((d) => api.environment(d.name)));
  if (!defs.length) {
    replace(body, h('p', { class: 'muted' }, 'No environments yet. Apply one with ', h('code', {}, 'sluice apply -f environment.yaml'), '.'));
    return;
  }
  replace(body, h('div', { class: 'env-list', id: 'environments' }, defs.map((d) => envCard(d, services.filter((s) => s.environment === d.name), navigate))));
}

function envCard(def, services, navigate) {
  const m = environmentModel(def.source);
  return h('section', { class: 'card env', 'data-env': def.name },
    h('div', { class: 'page-head' }, h('h2', {}, def.name), h('span', { class: 'muted' }, `v${def.version} · ${fmtAgo(def.createdAt)}`),
      editButton(`/environments/${encodeURIComponent(def.name)}/edit`, def.name)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Platform'), h('dd', {}, m.platform.type, settings(m.platform.settings)),
      h('dt', {}, 'Router'), h('dd', {}, m.router.type, settings(m.router.settings)),
      h('dt', {}, 'Providers'), h('dd', {}, m.providers.length
        ? m.providers.map((p) => h('span', { class: 'chip' }, `${p.name} (${p.type})`)) : h('span', { class: 'muted' }, 'none'))),
    h('h3', {}, 'Services'),
    services.length ? serviceTable(services, navigate) : h('p', { class: 'muted' }, 'No service released here yet.'));
}

function settings(s) {
  const parts = Object.entries(s || {}).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}: ${v}`);
  return parts.length ? h('span', { class: 'muted' }, ` · ${parts.join(' · ')}`) : null;
}

function serviceTable(services, navigate) {
  return h('table', { class: 'list compact' },
    h('thead', {}, h('tr', {}, ['Service', 'Live slot', 'Artifact', 'Instances', 'Last change', ''].map((c) => h('th', {}, c)))),
    h('tbody', {}, services.map((s) => h('tr', { 'data-service': s.service },
      h('td', { 'data-label': 'Service' }, s.service),
      h('td', { 'data-label': 'Live slot' }, slotPill(s.liveSlot)),
      h('td', { 'data-label': 'Artifact' }, h('code', {}, s.artifact || '')),
      h('td', { 'data-label': 'Instances' }, String(s.instances ?? '')),
      h('td', { 'data-label': 'Last change' }, s.executionId ? link(`/executions/${encodeURIComponent(s.executionId)}`, fmtAgo(s.updatedAt)) : fmtAgo(s.updatedAt)),
      h('td', {}, undoButton(s, navigate), h('span', { class: 'undo-result', role: 'status' }))))));
}

/** undoButton puts the service's previous release back, after asking. */
function undoButton(s, navigate) {
  const denied = !mayAct(s.environment, 'deployer');
  return h('button', {
    type: 'button', class: `btn btn-danger${denied ? ' btn-denied' : ''}`, 'data-action': 'undo', 'data-denied': denied,
    title: denied ? `Needs deployer in ${s.environment}; you have ${rolesText()}. The server decides if you try.` : null,
    onclick: async (ev) => {
      const out = ev.target.closest('td').querySelector('.undo-result');
      const { ok, comment } = await confirmDialog({
        title: `Undo · ${s.service} in ${s.environment}`,
        message: `Puts the previous release back: at once while its slot still runs, otherwise by running it again. You act as “${actingAs()}”.`,
        confirm: 'Undo', danger: true, comment: 'optional', commentLabel: 'Reason (optional)',
      });
      if (!ok) return;
      try {
        const r = await api.undo(s.environment, s.service, comment);
        navigate(`/executions/${encodeURIComponent(r.execution)}`);
      } catch (err) {
        replace(out, `Undo refused: ${err.message}`);
      }
    },
  }, 'Undo');
}
