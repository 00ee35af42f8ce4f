// Package secrets resolves the secret references of definitions (environment
// variables, files and keys of Kubernetes Secrets) and remembers every value it
// resolved in a Redactor, which replaces those values with "[redacted]" wherever
// text leaves the process: console lines, logs (through Handler), API answers and
// error messages.
package secrets
