package kube

import (
	"slices"
	"strings"
)

// KeepKeys is how many recent idempotency keys a key list annotation holds.
const KeepKeys = 16

// WithKey returns the key list annotation value list with key appended, keeping the
// most recent KeepKeys.
func WithKey(list, key string) string {
	keys := append(SplitKeys(list), key)
	if len(keys) > KeepKeys {
		keys = keys[len(keys)-KeepKeys:]
	}
	return strings.Join(keys, "\n")
}

// SplitKeys returns the keys of a key list annotation value (one key a line).
func SplitKeys(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, "\n")
}

// HasKey reports whether the key list annotation value list holds key; an empty key
// is never held, so a write without a key always takes place.
func HasKey(list, key string) bool {
	return key != "" && slices.Contains(SplitKeys(list), key)
}
