// Package datadog is the verification provider for Datadog metrics: it runs a
// metrics query through GET /api/v1/query with the DD-API-KEY and
// DD-APPLICATION-KEY headers on the configured site, and reads one series whose
// points may be sparse (null).
package datadog
