// Package auth decides who a caller is and what they may do: API tokens (shown once,
// stored as SHA-256 hashes under a public id), web sessions made from a token or from
// an OpenID Connect sign-in (OIDC: the code flow with PKCE, ID tokens as bearer
// tokens, the provider's groups mapped to roles), roles granted per environment, and
// the first admin token of an empty store.
package auth
