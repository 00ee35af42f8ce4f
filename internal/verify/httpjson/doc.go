// Package httpjson is the generic verification provider (type "http"): it calls
// any HTTP endpoint that answers JSON, with a URL, method, headers and body built
// from templates, and reads the value (and optionally named values and a series)
// at JSON paths such as data.result[0].value.
package httpjson
