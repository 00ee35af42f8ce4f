// Package api serves sluice's HTTP JSON API under /api/v1: definitions (apply, list,
// get, delete, history), executions (run, list, get, approve, reject, rollback, abort,
// pause, resume, retry), console events as JSON pages or Server-Sent Events, pipeline
// runs (their logs as events the same way), and services; tokens, roles, the audit log and OIDC sign-in (/api/v1/oidc/login and
// /api/v1/oidc/callback). Errors are always JSON with a code, a message and the field at fault.
package api
