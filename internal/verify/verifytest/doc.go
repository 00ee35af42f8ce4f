// Package verifytest is the conformance suite every verification provider passes:
// known answers, no data as ErrNoData, rejected queries and unreachable sources as
// errors, cancellation and concurrent use; BadAnswers checks that an HTTP
// provider turns an odd answer (an HTML error page, wrong JSON, an empty body,
// 5xx, 429, a timeout) into an error, never into a value.
package verifytest
