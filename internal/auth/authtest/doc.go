// Package authtest is the conformance suite every store of tokens, grants and audit
// entries (auth.Store and audit.Store) must pass.
package authtest
