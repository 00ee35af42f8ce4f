// Package providers builds verification providers from an environment's provider
// specs: one table from type to constructor, an unknown type is an error and a
// type this build lacks says so. It lives apart from package verify because it
// imports every provider package, and they import verify.
package providers
