package builtin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/traffic"
)

// ErrNotEnsured is wrapped by calls about a service that Ensure has not set up (or
// that was released).
var ErrNotEnsured = errors.New("service not ensured: run a service step first")

// ErrAddressTaken is wrapped by Ensure when the listen address already serves
// another service: the builtin router serves one service per listen address.
var ErrAddressTaken = errors.New("listen address already serves another service")

// EndpointSource tells the router which host:port addresses serve a slot. The local
// platform satisfies it.
type EndpointSource interface {
	// Endpoints returns the ready instances of a slot.
	Endpoints(ref platform.SlotRef) []string
}

// SourceFunc adapts a function to EndpointSource, for sources created after the
// router (the local platform takes the router's EndpointsChanged as an option).
type SourceFunc func(ref platform.SlotRef) []string

// Endpoints calls f.
func (f SourceFunc) Endpoints(ref platform.SlotRef) []string { return f(ref) }

// Options configures a Router; zero values take the documented defaults.
type Options struct {
	// Listen is the address each ensured service's proxy listens on, e.g.
	// 127.0.0.1:8080 (port 0 picks a free port; see Addr). Required.
	Listen string
	// Admin, when set, is the address of the admin listener: GET /metrics,
	// /weights and /instances of the service.
	Admin string
	// Source provides each slot's endpoints; without it a slot has none until
	// EndpointsChanged is called.
	Source EndpointSource
	// Resync is how often endpoints are re-read from Source, as a safety net for a
	// missed notification; 1s. Negative disables it.
	Resync time.Duration
	// Proxy is the template of each service's proxy configuration; Service and
	// Logger are set by the router.
	Proxy proxy.Config
	// StateFile, when set, records every ensured service and its weights (written
	// atomically on each change) so Restore can bring them back after a restart.
	StateFile string
	// ShutdownGrace bounds how long Release waits for in-flight requests; 5s.
	ShutdownGrace time.Duration
	// Logger receives the router's own events; nothing is logged when nil.
	Logger *slog.Logger
}

// Router is a traffic.Router backed by one proxy per service. Its methods are safe
// for concurrent use.
type Router struct {
	opts Options

	mu       sync.Mutex
	services map[string]*service
}

var _ traffic.Router = (*Router)(nil)

// New returns a router; it starts nothing until Ensure.
func New(opts Options) (*Router, error) {
	if opts.Listen == "" {
		return nil, errors.New("builtin: a listen address is required (router.builtin.listen)")
	}
	if opts.Resync == 0 {
		opts.Resync = time.Second
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{opts: opts, services: map[string]*service{}}, nil
}

// Ensure starts, once, the proxy listener of the service (and the admin listener
// when configured) and loads its endpoints from the source.
func (r *Router) Ensure(ctx context.Context, rt traffic.Route) error {
	name := rt.Service.Service
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	if name == "" {
		return errors.New("builtin: ensure: a service name is required")
	}
	rules, err := proxyRules(rt)
	if err != nil {
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	sticky := r.stickyCookie(rt.Sticky)
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.services[name]; ok {
		return r.setRouting(s, rules, sticky)
	}
	for other := range r.services {
		return fmt.Errorf("builtin: ensure %s: %s: %w (%s)", name, r.opts.Listen, ErrAddressTaken, other)
	}
	s, err := r.start(name)
	if err != nil {
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	r.services[name] = s
	r.resync(s)
	if err := s.route(rules, sticky); err != nil {
		delete(r.services, name)
		s.stop(ctx, r.opts.ShutdownGrace) //nolint:errcheck // the rules error is the one to report
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	if err := r.save(); err != nil {
		delete(r.services, name)
		s.stop(ctx, r.opts.ShutdownGrace) //nolint:errcheck // the state error is the one to report
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	r.opts.Logger.Info("router listening", "service", name, "addr", s.addr(), "admin", s.adminAddr())
	return nil
}

// SetWeights applies the split atomically; a key already applied is a no-op.
func (r *Router) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	if err := w.Validate(); err != nil {
		return fmt.Errorf("builtin: set weights %s: %w", svc.Service, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: set weights %s: %w", svc.Service, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.services[svc.Service]
	if !ok {
		return fmt.Errorf("builtin: set weights %s: %w", svc.Service, ErrNotEnsured)
	}
	if s.keys.seen(key) {
		return nil
	}
	prev := s.px.Weights()
	if err := s.px.SetWeights(w); err != nil {
		return fmt.Errorf("builtin: set weights %s: %w", svc.Service, err)
	}
	if err := r.save(); err != nil {
		s.px.SetWeights(prev) //nolint:errcheck // prev was valid; the state error is the one to report
		return fmt.Errorf("builtin: set weights %s: %w", svc.Service, err)
	}
	s.keys.add(key)
	r.opts.Logger.Info("router weights", "service", svc.Service, "weights", w.String())
	return nil
}

// Weights reads the split from the proxy's live routing table.
func (r *Router) Weights(ctx context.Context, svc traffic.ServiceRef) (traffic.Weights, error) {
	if err := ctx.Err(); err != nil {
		return traffic.Weights{}, fmt.Errorf("builtin: weights %s: %w", svc.Service, err)
	}
	s, err := r.lookup(svc.Service)
	if err != nil {
		return traffic.Weights{}, fmt.Errorf("builtin: weights %s: %w", svc.Service, err)
	}
	return s.px.Weights(), nil
}

// Release stops the service's listeners, letting in-flight requests finish for up
// to Options.ShutdownGrace; releasing an unknown service succeeds.
func (r *Router) Release(ctx context.Context, svc traffic.ServiceRef) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: release %s: %w", svc.Service, err)
	}
	r.mu.Lock()
	s, ok := r.services[svc.Service]
	delete(r.services, svc.Service)
	var serr error
	if ok {
		serr = r.save()
	}
	r.mu.Unlock()
	if !ok {
		return nil
	}
	if serr != nil {
		r.opts.Logger.Warn("router state", "service", svc.Service, "err", serr)
	}
	if err := s.stop(ctx, r.opts.ShutdownGrace); err != nil {
		return fmt.Errorf("builtin: release %s: %w", svc.Service, err)
	}
	r.opts.Logger.Info("router released", "service", svc.Service)
	return nil
}

// Metrics returns the per-slot counters of a service's proxy; two snapshots
// subtract into a window (proxy.MetricsSnapshot.Sub).
func (r *Router) Metrics(service string) (proxy.MetricsSnapshot, error) {
	s, err := r.lookup(service)
	if err != nil {
		return proxy.MetricsSnapshot{}, fmt.Errorf("builtin: metrics %s: %w", service, err)
	}
	return s.px.Snapshot(), nil
}

// Instances returns the proxy's view of a service's instances: address, slot,
// health and in-flight requests.
func (r *Router) Instances(service string) ([]proxy.InstanceHealth, error) {
	s, err := r.lookup(service)
	if err != nil {
		return nil, fmt.Errorf("builtin: instances %s: %w", service, err)
	}
	return s.px.Instances(), nil
}

// Addr returns the address a service's proxy listens on, or "" when it is not
// ensured.
func (r *Router) Addr(service string) string {
	s, err := r.lookup(service)
	if err != nil {
		return ""
	}
	return s.addr()
}

// AdminAddr returns the address of a service's admin listener, or "" when there is
// none.
func (r *Router) AdminAddr(service string) string {
	s, err := r.lookup(service)
	if err != nil {
		return ""
	}
	return s.adminAddr()
}

// EndpointsChanged replaces a slot's endpoints in its service's proxy; it has the
// signature of local.Options.OnEndpoints. A service not ensured is ignored: Ensure
// reads the source itself.
func (r *Router) EndpointsChanged(ref platform.SlotRef, endpoints []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.services[ref.Service]
	if !ok {
		return
	}
	r.apply(s, ref.Slot, endpoints)
}

// Close stops every service's proxy, like Release, but keeps Options.StateFile as
// it is, so a router made later on the same file restores them.
func (r *Router) Close(ctx context.Context) error {
	r.mu.Lock()
	services := r.services
	r.services = map[string]*service{}
	r.mu.Unlock()
	var errs []error
	for name, s := range services {
		if err := s.stop(ctx, r.opts.ShutdownGrace); err != nil {
			errs = append(errs, fmt.Errorf("builtin: close %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// DefaultStickyCookie names the sticky-session cookie when a route asks for sticky
// sessions and Options.Proxy.StickyCookie names none.
const DefaultStickyCookie = "sluice_slot"

// stickyCookie is the cookie name for a route's sticky setting: the configured or
// default name when on; when off, the configured name (an operator's standing choice).
func (r *Router) stickyCookie(on bool) string {
	if on && r.opts.Proxy.StickyCookie == "" {
		return DefaultStickyCookie
	}
	return r.opts.Proxy.StickyCookie
}

// proxyRules turns a route's match rules into the proxy's.
func proxyRules(rt traffic.Route) ([]proxy.Rule, error) {
	if err := rt.ValidateMatch(); err != nil {
		return nil, err
	}
	rules := make([]proxy.Rule, 0, len(rt.Match))
	for _, m := range rt.Match {
		rules = append(rules, proxy.Rule{Header: m.Header, Cookie: m.Cookie, Value: m.Value, Slot: rt.MatchSlot})
	}
	return rules, nil
}

// setRouting replaces an ensured service's rules and sticky cookie and records them,
// putting the previous ones back when they cannot be recorded. Callers hold r.mu.
func (r *Router) setRouting(s *service, rules []proxy.Rule, sticky string) error {
	prevRules, prevSticky := s.px.Rules(), s.px.Sticky()
	if err := s.route(rules, sticky); err != nil {
		return fmt.Errorf("builtin: ensure %s: %w", s.name, err)
	}
	if err := r.save(); err != nil {
		s.route(prevRules, prevSticky) //nolint:errcheck // they were in force; the state error is the one to report
		return fmt.Errorf("builtin: ensure %s: %w", s.name, err)
	}
	if len(rules) > 0 || sticky != prevSticky {
		r.opts.Logger.Info("router rules", "service", s.name, "rules", len(rules), "sticky", sticky)
	}
	return nil
}

func (r *Router) lookup(name string) (*service, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.services[name]
	if !ok {
		return nil, ErrNotEnsured
	}
	return s, nil
}

// resync reads both slots' endpoints from the source. Callers hold r.mu.
func (r *Router) resync(s *service) {
	if r.opts.Source == nil {
		return
	}
	for _, slot := range []platform.Slot{platform.Green, platform.Blue} {
		r.apply(s, slot, r.opts.Source.Endpoints(platform.SlotRef{Service: s.name, Slot: slot}))
	}
}

// apply gives the proxy a slot's endpoints when they changed. Callers hold r.mu.
func (r *Router) apply(s *service, slot platform.Slot, eps []string) {
	if !slot.Valid() || equal(s.eps[slot], eps) {
		return
	}
	if err := s.px.SetEndpoints(slot, eps); err != nil {
		r.opts.Logger.Warn("router endpoints", "service", s.name, "slot", slot, "err", err)
		return
	}
	s.eps[slot] = append([]string(nil), eps...)
	r.opts.Logger.Info("router endpoints", "service", s.name, "slot", slot, "endpoints", eps)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// listen opens a listener and names the address in its error.
func listen(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener on %s: %w", what, addr, err)
	}
	return ln, nil
}

// serveAdmin serves the proxy's admin handler on ln.
func serveAdmin(ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on stop
	return srv
}
