// Package audit defines sluice's append-only audit log: who did what, when, from where
// and with what outcome, for every state-changing API request. Stores only insert and
// read entries, and remove them only after Retention has exported them (the one
// delete their triggers allow). Rejections counts the requests a stranger can send
// without limit (bad or no credentials, over the rate limit) per source and minute
// instead of storing each; Bound caps the size of every stored entry.
package audit
