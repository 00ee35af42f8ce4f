// Package providers holds the provider part of the registry of environment
// types (internal/envrun): Types maps every provider type to its check and its
// constructor, and Source builds and keeps an environment's providers, each
// behind a circuit breaker. An unknown type is an error, never a fallback. It
// lives apart from package verify because it imports every provider package,
// and they import verify.
package providers
