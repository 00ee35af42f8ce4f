package builtin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// keep is how long readings are kept; no window can be longer.
const keep = time.Hour

// maxReadings bounds the readings kept per service.
const maxReadings = 4096

// Provider answers queries from the built-in router's counters. Counters only
// grow, so a window is the difference between the reading at its end and the
// reading closest to its start; the provider keeps the readings it takes.
type Provider struct {
	src verify.MetricsSource
	now func() time.Time

	mu       sync.Mutex
	readings map[string][]proxy.MetricsSnapshot
}

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Watcher  = (*Provider)(nil)
)

// Validate checks a spec of the builtin provider: it reads the router's own
// counters, so it takes no url, settings or credentials, and says so rather
// than ignoring them.
func Validate(ps spec.ProviderSpec) error {
	switch {
	case ps.URL != "":
		return verify.FieldErrorf("url", "builtin: the builtin provider reads the built-in router; it takes no url")
	case len(ps.Settings) > 0:
		return verify.FieldErrorf("settings", "builtin: the builtin provider has no settings")
	case len(ps.Credentials) > 0:
		return verify.FieldErrorf("credentials", "builtin: the builtin provider needs no credentials")
	}
	return nil
}

// New returns a provider over src; now is the clock (nil: time.Now) used when a
// snapshot carries no time.
func New(src verify.MetricsSource, now func() time.Time) *Provider {
	if now == nil {
		now = time.Now
	}
	return &Provider{src: src, now: now, readings: map[string][]proxy.MetricsSnapshot{}}
}

// Check reports whether the built-in router is there to read.
func (p *Provider) Check(ctx context.Context) error {
	if p.src == nil {
		return errors.New("builtin: the environment's router is not the built-in router")
	}
	return ctx.Err()
}

// Watch takes a first reading of a service so the first window has a start.
func (p *Provider) Watch(ctx context.Context, service string) error {
	_, err := p.read(service)
	return err
}

// Query answers one query for one slot over the window ending now.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	if err := ctx.Err(); err != nil {
		return verify.Result{}, err
	}
	if q.Logs {
		return verify.Result{}, fmt.Errorf("builtin: log queries: %w", verify.ErrUnsupported)
	}
	e, err := parse(q.Text)
	if err != nil {
		return verify.Result{}, err
	}
	if p.src == nil {
		return verify.Result{}, errors.New("builtin: the environment's router is not the built-in router")
	}
	if !q.Slot.Valid() {
		return verify.Result{}, fmt.Errorf("builtin: slot %q is neither blue nor green", q.Slot)
	}
	cur, err := p.read(q.Service)
	if err != nil {
		return verify.Result{}, err
	}
	prev, ok := p.start(q.Service, cur.At.Add(-q.Window))
	if !ok {
		return verify.Result{}, fmt.Errorf("builtin: %s: no earlier reading to start the window from: %w", q.Service, verify.ErrNoData)
	}
	w, span := window(cur, prev, q)
	r, err := e.eval(w, span)
	if err != nil {
		return verify.Result{}, err
	}
	r.Window = span
	return r, nil
}

// read takes and keeps a reading of a service's counters.
func (p *Provider) read(service string) (proxy.MetricsSnapshot, error) {
	s, err := p.src.Metrics(service)
	if err != nil {
		return proxy.MetricsSnapshot{}, fmt.Errorf("builtin: read counters: %w", err)
	}
	if s.At.IsZero() {
		s.At = p.now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rs := append(p.readings[service], s)
	cut := 0
	for cut < len(rs)-1 && (s.At.Sub(rs[cut].At) > keep || len(rs)-cut > maxReadings) {
		cut++
	}
	p.readings[service] = rs[cut:]
	return s, nil
}

// start returns the reading closest to t among all but the newest; false when
// there is no other. The latest reading at or before t would do while readings
// are dense, but after a pause (an analysis that starts minutes after the last
// one, its Watch reading a few milliseconds after t) it would stretch the first
// window over the pause and count an earlier canary's requests as this one's.
func (p *Provider) start(service string, t time.Time) (proxy.MetricsSnapshot, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rs := p.readings[service]
	if len(rs) < 2 {
		return proxy.MetricsSnapshot{}, false
	}
	best := rs[0]
	for _, r := range rs[1 : len(rs)-1] {
		if r.At.Sub(t).Abs() <= best.At.Sub(t).Abs() {
			best = r
		}
	}
	return best, true
}

// window returns the slot's counters between prev and cur and the time they span.
// When a counter went down the router restarted, and the window starts at zero.
func window(cur, prev proxy.MetricsSnapshot, q verify.Query) (proxy.SlotMetrics, time.Duration) {
	c, b := cur.Slot(q.Slot), prev.Slot(q.Slot)
	if c.Requests() < b.Requests() || c.LatencySum < b.LatencySum {
		return c, q.Window
	}
	return c.Sub(b), cur.At.Sub(prev.At)
}
