// Package oidctest finds the real OpenID Connect provider that scripts/oidc.sh starts
// for the tests, and signs its test users in without a browser to get real ID tokens.
package oidctest
