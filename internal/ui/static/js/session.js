// session.js: signing in with an API token or single sign-on (OIDC) when the server
// requires authentication,
// the header that says who is signed in, signing out, and what their roles allow.
//
// Any API request answered 401 opens the sign-in view; every request waiting on it is
// sent again once the person has signed in. The server stays the authority on what a
// person may do: roles only grey out buttons, they never hide or disable them.

import { api, setCSRF, setAuthMode, setUnauthorizedHandler } from './api.js';
import { h, replace } from './dom.js';

const ranks = ['viewer', 'deployer', 'approver', 'admin'];

let me = null; // the whoami answer, null until known
let pending = null; // { promise, resolve } while the sign-in view is up
let afterSignIn = () => {};

/** setupSession learns who the person is and opens the sign-in view when needed. */
export function setupSession({ onSignedIn }) {
  afterSignIn = onSignedIn || afterSignIn;
  setUnauthorizedHandler(signIn);
  api.whoami().then(learn).catch((err) => console.warn('whoami:', err.message));
}

/** authEnabled says whether the server requires sign-in. */
export function authEnabled() {
  return !!(me && me.authEnabled);
}

/**
 * mayAct says whether the signed-in person's roles include need in env. Without
 * authentication, or before the roles are known, everything may be attempted.
 */
export function mayAct(env, need) {
  if (!authEnabled()) return true;
  const want = ranks.indexOf(need);
  return (me.grants || []).some((g) => (g.environment === '*' || g.environment === env) && ranks.indexOf(g.role) >= want);
}

/** rolesText lists the signed-in person's grants, e.g. "approver in prod". */
export function rolesText() {
  const gs = (me && me.grants) || [];
  return gs.length ? gs.map((g) => `${g.role} in ${g.environment}`).join(', ') : 'no roles';
}

/** isAdmin says whether the person may read the audit log: admin in every environment, or anyone without authentication. */
export function isAdmin() {
  return !!me && (!authEnabled() || mayAct('*', 'admin'));
}

/** showAdminNav shows the links only admins can use (the server still refuses the rest). */
export function showAdminNav() {
  for (const a of document.querySelectorAll('[data-admin]')) a.hidden = !isAdmin();
}

function learn(who) {
  me = who;
  setAuthMode(who.authEnabled, who.user);
  renderWho();
  window.dispatchEvent(new Event('sluice-user'));
}

// signIn shows the sign-in view (once, however many requests were refused) and
// resolves when the person has signed in.
function signIn(err) {
  if (!pending) {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    pending = { promise, resolve };
    const ended = !!(me && me.user); // someone was signed in: their session ended
    if (!authEnabled()) {
      // A 401 says the server requires sign-in, whatever whoami has (not) said yet.
      me = { authEnabled: true, user: '', grants: [] };
      setAuthMode(true, '');
    }
    showSignIn(ended && err ? 'Your session has ended; sign in again.' : '');
  }
  return pending.promise;
}

function showSignIn(note) {
  document.getElementById('view').hidden = true;
  document.querySelector('.identity-note').hidden = true;
  const input = h('input', { id: 'signin-token', name: 'token', type: 'password', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'sluice_…', required: true });
  const error = h('p', { class: 'error', id: 'signin-error', role: 'alert' }, note);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'signin-submit' }, 'Sign in');
  const form = h('form', { id: 'signin-form', class: 'signin-form' },
    h('label', { class: 'field' }, h('span', {}, 'API token'), input), error,
    h('div', { class: 'form-actions' }, submit));
  const view = h('main', { class: 'signin', id: 'signin' }, h('section', { class: 'page narrow' },
    h('h1', {}, 'Sign in to sluice'),
    h('p', {}, 'This server requires authentication. Paste an API token: it is exchanged for a web session ',
      '(a cookie this page cannot read) and is not stored by the browser.'),
    h('p', { class: 'muted' }, 'An admin makes tokens with ', h('code', {}, 'sluice token create <user>'),
      ' (the first admin token is printed or written by ', h('code', {}, 'sluice server --auth'),
      '); what you may do follows the roles granted with ', h('code', {}, 'sluice role grant'), '.'),
    form));
  form.addEventListener('submit', (e) => { e.preventDefault(); login(input, error, submit); });
  document.getElementById('signin')?.remove();
  document.getElementById('view').after(view);
  renderWho();
  input.focus();
  offerSSO(form);
}

// offerSSO puts a "Sign in with SSO" link above the token form when the server signs
// people in with an OpenID Connect provider. The link leaves this page for the
// provider, which sends the browser back to the page it was on.
function offerSSO(form) {
  api.sso().then((info) => {
    if (!info || !info.enabled || document.getElementById('signin-sso')) return;
    const here = location.pathname + location.search;
    const link = h('a', { id: 'signin-sso', class: 'btn btn-primary signin-sso',
      href: `${info.loginUrl}?return=${encodeURIComponent(here)}` }, 'Sign in with SSO');
    form.before(h('div', { class: 'signin-sso-box' }, link,
      h('p', { class: 'muted small' }, 'or paste an API token:')));
  }).catch((err) => console.warn('sso:', err.message));
}

async function login(input, error, submit) {
  const token = input.value.trim();
  if (!token) {
    error.textContent = 'Paste a token first.';
    return;
  }
  submit.disabled = true;
  error.textContent = '';
  let who;
  try {
    const r = await api.login(token);
    setCSRF(r.csrfToken);
    who = await api.whoami();
  } catch (err) {
    error.textContent = `Sign-in refused: ${err.message}`;
    submit.disabled = false;
    return;
  }
  input.value = '';
  document.getElementById('signin')?.remove();
  document.getElementById('view').hidden = false;
  const done = pending;
  pending = null;
  learn(who);
  if (done) done.resolve();
  window.dispatchEvent(new Event('sluice-signed-in'));
}

async function signOut() {
  try {
    await api.logout();
  } catch (err) {
    console.warn('logout:', err.message); // the session may already be gone
  }
  setCSRF('');
  me = { authEnabled: true, grants: [] };
  setAuthMode(true, '');
  // Whatever the page shows was read with the old identity: draw it again after sign-in.
  signIn().then(() => afterSignIn());
}

// renderWho shows the self-declared name field without authentication, and who is
// signed in with a sign-out button with it.
function renderWho() {
  const field = document.getElementById('identity-field');
  const box = document.getElementById('signed-in');
  if (!authEnabled()) {
    field.hidden = false;
    box.hidden = true;
    return;
  }
  field.hidden = true;
  document.querySelector('.identity-note').hidden = true;
  box.hidden = false;
  if (!me.user || pending) {
    replace(box, h('span', { class: 'muted' }, 'Not signed in'));
    return;
  }
  replace(box,
    h('span', { id: 'whoami', title: rolesText() }, 'Signed in as ', h('strong', {}, me.user)),
    h('span', { class: 'roles muted small' }, rolesText()),
    h('button', { type: 'button', class: 'btn btn-small', id: 'signout', onclick: signOut }, 'Sign out'));
}
