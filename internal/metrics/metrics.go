package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/internal/store"
)

// Source is the part of the store the metrics read; store.Store satisfies it.
type Source interface {
	// ListExecutions returns executions matching f, newest first.
	ListExecutions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error)
	// Events returns up to limit events with Seq > after, in order.
	Events(ctx context.Context, executionID string, after int64, limit int) ([]store.Event, error)
}

// DefaultWindow is the trailing window of the DORA figures.
const DefaultWindow = 30 * 24 * time.Hour

// Options configures a Collector. Source is required.
type Options struct {
	Source Source
	// Window is the trailing window of the DORA figures; DefaultWindow when zero.
	Window time.Duration
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Logger receives refresh failures; nil discards them.
	Logger *slog.Logger
}

// Collector computes sluice's metrics from the store when scraped.
type Collector struct {
	opt      Options
	registry *prometheus.Registry

	mu    sync.Mutex // one refresh at a time; guards execs and snap
	execs map[string]*execution
	snap  *snapshot
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector registered, with the Go runtime and process collectors, in
// a registry of its own.
func New(opt Options) (*Collector, error) {
	if opt.Source == nil {
		return nil, fmt.Errorf("metrics: a source is required")
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{opt: opt, registry: prometheus.NewRegistry(), execs: map[string]*execution{}, snap: &snapshot{}}
	for _, col := range []prometheus.Collector{c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := c.registry.Register(col); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return c, nil
}

// Handler serves the metrics in the Prometheus text (or OpenMetrics) format after
// reading what changed in the store. When the store cannot be read it answers 503,
// so the scrape fails visibly instead of showing stale numbers.
func (c *Collector) Handler() http.Handler {
	h := promhttp.HandlerFor(c.registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.Refresh(r.Context()); err != nil {
			c.opt.Logger.Warn("cannot refresh metrics", "err", err)
			http.Error(w, "metrics unavailable: the store cannot be read", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Refresh reads the executions and the events written since the last refresh and
// recomputes the numbers.
func (c *Collector) Refresh(ctx context.Context) error {
	exs, err := c.opt.Source.ListExecutions(ctx, store.ExecutionFilter{})
	if err != nil {
		return fmt.Errorf("metrics: list executions: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool, len(exs))
	for _, ex := range exs {
		seen[ex.ID] = true
		e := c.execs[ex.ID]
		if e != nil && terminal(e.status) && e.version == ex.Version {
			continue // finished and unchanged: its facts are final
		}
		if e == nil {
			e = &execution{}
			c.execs[ex.ID] = e
		}
		if err := e.update(ctx, c.opt.Source, ex); err != nil {
			return err
		}
	}
	for id := range c.execs {
		if !seen[id] {
			delete(c.execs, id)
		}
	}
	c.snap = summarise(c.execs, c.opt.Now(), c.opt.Window)
	return nil
}

// Describe implements prometheus.Collector; the metrics are unchecked because their
// label values come from the store.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector with the numbers of the last refresh.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	s := c.snap
	c.mu.Unlock()
	s.collect(ch)
}
