// builder-roles.js: whether the person may save a definition. The server decides in
// the end (a refused save shows its message); this only keeps edit buttons away from
// people whose roles cannot save: applying a workflow needs admin in every environment
// ("*"), an environment admin in it.

import { api } from '../api.js';

const ranks = ['viewer', 'deployer', 'approver', 'admin'];

/** mayEdit resolves to {ok, why}: may the person save a definition scoped to env. */
export async function mayEdit(env) {
  let who;
  try {
    who = await api.whoami();
  } catch {
    return { ok: true, why: '' }; // the server answers for itself on save
  }
  if (!who || !who.authEnabled) return { ok: true, why: '' };
  const ok = (who.grants || []).some((g) => (g.environment === '*' || g.environment === env) && ranks.indexOf(g.role) >= ranks.indexOf('admin'));
  const scope = env === '*' ? 'every environment (*)' : env;
  return { ok, why: ok ? '' : `Saving needs admin in ${scope}; you are ${who.user || 'not signed in'} with ${rolesOf(who)}. You can read the document and validate it.` };
}

function rolesOf(who) {
  const gs = who.grants || [];
  return gs.length ? gs.map((g) => `${g.role} in ${g.environment}`).join(', ') : 'no roles';
}

/** editButton returns a link to the builder that appears only for people who may save. */
export function editButton(href, env, label = 'Edit') {
  const a = document.createElement('a');
  a.className = 'btn';
  a.href = href;
  a.textContent = label;
  a.dataset.edit = 'true';
  a.hidden = true;
  mayEdit(env).then((p) => { a.hidden = !p.ok; if (!p.ok) a.remove(); });
  return a;
}
