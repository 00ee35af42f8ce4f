// Package newrelic is the verification provider for New Relic: NRQL through
// NerdGraph (POST /graphql with the API-Key header) on the US or EU endpoint. A
// GraphQL answer with errors is an error even with HTTP 200.
package newrelic
