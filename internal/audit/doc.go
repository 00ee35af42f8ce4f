// Package audit defines sluice's append-only audit log: who did what, when, from where
// and with what outcome, for every state-changing API request. Stores only insert and
// read entries; there is no way to change or remove one through sluice.
package audit
