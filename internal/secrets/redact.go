package secrets

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
)

// Mask is what a redacted value becomes.
const Mask = "[redacted]"

// MinLength is the shortest value a Redactor masks: shorter ones would mask ordinary
// text everywhere (a secret that short is not a secret).
const MinLength = 4

// Redactor replaces every known secret value in text with Mask. It is safe for
// concurrent use; the zero value is ready.
type Redactor struct {
	mu       sync.RWMutex
	values   map[string]bool
	replacer *strings.Replacer
}

// Default is the process-wide Redactor that Resolve feeds.
var Default = &Redactor{}

// Add registers secret values, along with their JSON-escaped forms so that they are
// masked inside encoded JSON too.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]bool{}
	}
	changed := false
	for _, v := range values {
		for _, form := range forms(v) {
			if len(form) >= MinLength && !r.values[form] {
				r.values[form], changed = true, true
			}
		}
	}
	if changed {
		r.rebuild()
	}
}

// forms returns a value as written raw and inside a JSON string.
func forms(v string) []string {
	out := []string{v, strings.TrimSpace(v)}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	return out
}

// rebuild makes the replacer, longest value first so no part of a longer one survives.
func (r *Redactor) rebuild() {
	vs := make([]string, 0, len(r.values))
	for v := range r.values {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		pairs = append(pairs, v, Mask)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// String returns s with every known secret masked.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.replacer
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Bytes returns b with every known secret masked (b itself when none occurs).
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || !r.has() {
		return b
	}
	s := string(b)
	if out := r.String(s); out != s {
		return []byte(out)
	}
	return b
}

func (r *Redactor) has() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.replacer != nil
}

// Error returns err with its message masked; errors.Is and errors.As still see the
// original chain. A nil err stays nil.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Is lets errors.Is match through the wrapper like any wrapped error.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
