package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/verify"
)

// Circuit breaking: after BreakAfter calls in a row to one provider fail (no
// answer, HTTP 5xx), it is not called for a cooldown, so that many executions do
// not pile onto a provider that is down and each one's verification fails at once
// instead of after a timeout. Then one call probes it: an answer closes the
// circuit, a failure opens it again for twice as long, up to MaxCooldown. A 4xx
// answer (a bad query, bad credentials) is the caller's problem and leaves the
// circuit closed. A 429 is neither: the provider is up and says when to come back
// (the shared client waits for that), so it neither counts nor closes the
// circuit; nor does a call that ended because its caller cancelled it or its
// deadline passed (the measurement's time budget, which says nothing certain
// about the provider).
const (
	BreakAfter  = 5
	Cooldown    = 5 * time.Second
	MaxCooldown = time.Minute
)

// ErrCircuitOpen is returned instead of calling a provider that keeps failing.
var ErrCircuitOpen = errors.New("circuit open")

// WithBreaker changes when the circuit of each provider opens and for how long.
func WithBreaker(after int, cooldown time.Duration) SourceOption {
	return func(s *Source) { s.breakAfter, s.cooldown = after, cooldown }
}

// breaker is an http.RoundTripper that stops calling a failing provider.
type breaker struct {
	next       http.RoundTripper
	name       string
	after      int
	base, max  time.Duration
	now        func() time.Time
	mu         sync.Mutex
	failures   int
	cooldown   time.Duration
	openUntil  time.Time
	probing    bool
	lastFailed string
}

func newBreaker(next http.RoundTripper, name string, after int, cooldown time.Duration, now func() time.Time) *breaker {
	if next == nil {
		next = http.DefaultTransport
	}
	return &breaker{next: next, name: name, after: after, base: cooldown, max: max(cooldown, MaxCooldown), cooldown: cooldown, now: now}
}

// RoundTrip calls the provider unless its circuit is open.
func (b *breaker) RoundTrip(req *http.Request) (*http.Response, error) {
	probe, err := b.admit()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := b.next.RoundTrip(req)
	b.record(req.Context(), probe, resp, err)
	return resp, err
}

// admit says whether a call may go out, and whether it is the probe after a cooldown.
func (b *breaker) admit() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.after {
		return false, nil
	}
	now := b.now()
	if now.Before(b.openUntil) || b.probing {
		next := b.openUntil
		if b.probing {
			next = now
		}
		return false, &verify.ProviderError{RetryAfter: next, Err: fmt.Errorf("%w: the last %d calls to provider %s failed (last: %s); not calling it again before %s",
			ErrCircuitOpen, b.failures, b.name, b.lastFailed, next.Format("15:04:05.000"))}
	}
	b.probing = true
	return true, nil
}

// record counts a failed call or closes the circuit after an answer.
func (b *breaker) record(ctx context.Context, probe bool, resp *http.Response, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	failed := ""
	switch {
	case err != nil && ctx.Err() != nil:
		return // the caller gave up or ran out of time; says nothing certain about the provider
	case err != nil:
		failed = err.Error()
	case resp.StatusCode == http.StatusTooManyRequests:
		return // up, and rate limiting: the client waits as it says
	case resp.StatusCode >= 500:
		failed = resp.Status
	}
	if failed == "" {
		b.failures, b.cooldown = 0, b.base
		return
	}
	b.failures++
	b.lastFailed = failed
	if b.failures < b.after {
		return
	}
	if probe {
		b.cooldown = min(2*b.cooldown, b.max)
	}
	b.openUntil = b.now().Add(b.cooldown)
}

// withBreaker returns a copy of client whose calls go through a breaker.
func withBreaker(client *http.Client, name string, after int, cooldown time.Duration, now func() time.Time) *http.Client {
	c := *client
	c.Transport = newBreaker(client.Transport, name, after, cooldown, now)
	return &c
}
