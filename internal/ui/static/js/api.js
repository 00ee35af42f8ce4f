// api.js: the JSON API under /api/v1: the caller's self-declared identity when the
// server trusts it, the web session's CSRF token when it requires sign-in, and a retry
// after signing in when a request is answered 401.

const userKey = 'sluice.user';

/** getUser returns the name the person acts as (stored in this browser). */
export function getUser() {
  return localStorage.getItem(userKey) || '';
}

/** setUser stores the name the person acts as. */
export function setUser(name) {
  if (name) localStorage.setItem(userKey, name.trim());
  else localStorage.removeItem(userKey);
}

/** ApiError is a refused or failed API request, carrying the server's error body. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `request failed with HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
    this.problems = e.problems || [];
  }
}

let csrf = '';
let authMode = false;
let signedIn = '';
let onUnauthorized = null;

/** setCSRF keeps the CSRF token a login answered ('' forgets it). */
export function setCSRF(token) {
  csrf = token || '';
}

/**
 * setAuthMode says whether the server requires sign-in (then no self-declared name is
 * sent) and who is signed in.
 */
export function setAuthMode(on, user) {
  authMode = !!on;
  signedIn = user || '';
}

/** actingAs is who requests are made as: the signed-in user, or the self-declared name. */
export function actingAs() {
  return (authMode ? signedIn : getUser()) || 'anonymous';
}

/**
 * setUnauthorizedHandler installs what runs when the API answers 401: a function that
 * resolves once the person has signed in, after which the request is sent again.
 */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// csrfToken is the web session's CSRF token: the one login answered, or the
// sluice_csrf cookie of a session made before this page loaded.
function csrfToken() {
  if (csrf) return csrf;
  const m = document.cookie.match(/(?:^|;\s*)sluice_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

// X-Sluice-Request marks every request as the UI's own: the server refuses a
// state-changing request without it (or a JSON body), which is what an HTML form or a
// simple fetch from another origin would send.
function headers(extra) {
  const hd = { Accept: 'application/json', 'X-Sluice-Request': '1', ...extra };
  const user = getUser();
  if (user && !authMode) hd['X-Sluice-User'] = user;
  const csrf = csrfToken();
  if (csrf) hd['X-Sluice-CSRF'] = csrf;
  return hd;
}

async function request(method, path, opts = {}) {
  const { body, query, noRetry } = opts;
  let url = '/api/v1' + path;
  const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v)).toString() : '';
  if (qs) url += '?' + qs;
  const init = { method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(url, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (res.status === 401 && onUnauthorized && !noRetry) {
    await onUnauthorized(new ApiError(res.status, data));
    return request(method, path, opts);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const enc = encodeURIComponent;

/** api lists every call the UI makes. */
export const api = {
  executions: (filters) => request('GET', '/executions', { query: filters }).then((r) => r.items || []),
  execution: (id) => request('GET', `/executions/${enc(id)}`),
  report: (id) => request('GET', `/executions/${enc(id)}/report`),
  act: (id, action, body) => request('POST', `/executions/${enc(id)}/${action}`, { body }),
  workflows: () => request('GET', '/workflows').then((r) => r.items || []),
  workflow: (name) => request('GET', `/workflows/${enc(name)}`),
  workflowVersions: (name) => request('GET', `/workflows/${enc(name)}/versions`).then((r) => r.items || []),
  workflowVersion: (name, v) => request('GET', `/workflows/${enc(name)}/versions/${enc(v)}`),
  run: (name, version, variables) => request('POST', `/workflows/${enc(name)}/run`, { body: { version, variables } }),
  environments: () => request('GET', '/environments').then((r) => r.items || []),
  environment: (name) => request('GET', `/environments/${enc(name)}`),
  applyYAML: (file, source, dryRun) => request('POST', '/apply', { query: { dryRun: dryRun ? 'true' : '' }, body: { files: [{ name: file, source }] } }),
  services: () => request('GET', '/services').then((r) => r.items || []),
  service: (env, service) => request('GET', `/services/${enc(env)}/${enc(service)}`),
  audit: (query) => request('GET', '/audit', { query }),
  undo: (env, service, reason) => request('POST', `/services/${enc(env)}/${enc(service)}/undo`, { body: { reason } }),
  whoami: () => request('GET', '/whoami'),
  login: (token) => request('POST', '/login', { body: { token }, noRetry: true }),
  logout: () => request('POST', '/logout', { noRetry: true }),
  sso: () => request('GET', '/oidc', { noRetry: true }),
  pipelineRuns: (filters) => request('GET', '/pipeline-runs', { query: filters }).then((r) => r.items || []),
  pipelineRun: (id) => request('GET', `/pipeline-runs/${enc(id)}`),
  pipelineDecide: (id, action, body) => request('POST', `/pipeline-runs/${enc(id)}/${action}`, { body }),
};

/** eventsURL is the execution's event stream. */
export function eventsURL(id) {
  return `/api/v1/executions/${enc(id)}/events`;
}

/** pipelineEventsURL is the pipeline run's event stream (the lines of its log). */
export function pipelineEventsURL(id) {
  return `/api/v1/pipeline-runs/${enc(id)}/events`;
}

/** reportMarkdown fetches an execution's release report as Markdown text. */
export async function reportMarkdown(id) {
  const res = await fetch(`/api/v1/executions/${enc(id)}/report?format=markdown`, { headers: headers({ Accept: 'text/markdown' }) });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.text();
}
