// Package spec defines sluice's workflow and environment documents: their Go types,
// YAML decoding that keeps file:line:column positions, template variables, and
// validation that reports every problem at once. It performs no I/O.
package spec
