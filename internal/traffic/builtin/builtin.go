package builtin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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
// another service the request could not be told from: two services without hosts,
// a host two services claim, or a second service in TCP mode.
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
	// Mirror, when its Percent is above 0, copies that share of the requests routed
	// to the other slot to Mirror.Slot in every service (router.builtin.mirror).
	Mirror proxy.Mirror
	// Listeners are listening sockets inherited from a router process being
	// replaced, by address (Listen or Admin as configured): they are used instead of
	// binding the address again, so no connection is refused during the hand-over.
	Listeners map[string]net.Listener
	// Logger receives the router's own events; nothing is logged when nil.
	Logger *slog.Logger
}

// Router is a traffic.Router backed by one proxy per service. Its methods are safe
// for concurrent use.
type Router struct {
	opts Options

	mu         sync.Mutex
	services   map[string]*service
	front      *front // the shared listener, while a service is ensured
	generation uint64 // counts the changes recorded in the state file
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
	if err := proxy.New(proxy.Config{}).SetMirror(opts.Mirror); err != nil {
		return nil, fmt.Errorf("builtin: mirror: %w", err)
	}
	return &Router{opts: opts, services: map[string]*service{}}, nil
}

// Ensure sets up the service on the router's listen address, once, loads its
// endpoints from the source and then serves it: by Host (or TLS SNI) when the
// route names hosts, otherwise as the address's default service.
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
	hosts := normalHosts(rt.Hosts)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkHosts(name, hosts); err != nil {
		return fmt.Errorf("builtin: ensure %s: %s: %w", name, r.opts.Listen, err)
	}
	if s, ok := r.services[name]; ok {
		return r.reroute(s, rules, sticky, hosts)
	}
	s := r.newService(name, hosts)
	r.resync(s)
	if err := s.route(rules, sticky); err != nil {
		s.close()
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	if err := r.add(s); err != nil {
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	r.opts.Logger.Info("router listening", "service", name, "addr", r.front.addr(), "admin", r.front.adminAddr(), "hosts", hosts)
	return nil
}

// add makes s served on the front listener (opening it first when needed) and
// records it; on failure s is closed and nothing changed. Callers hold r.mu.
func (r *Router) add(s *service) error {
	r.services[s.name] = s
	if err := r.attach(); err != nil {
		delete(r.services, s.name)
		s.close()
		return err
	}
	if err := r.save(); err != nil {
		delete(r.services, s.name)
		r.attach() //nolint:errcheck // the front is open; this only removes s
		s.close()
		return err
	}
	return nil
}

// reroute replaces an ensured service's rules, sticky cookie and hosts. Callers
// hold r.mu.
func (r *Router) reroute(s *service, rules []proxy.Rule, sticky string, hosts []string) error {
	prevHosts := s.hosts
	s.hosts = hosts
	if err := r.setRouting(s, rules, sticky); err != nil {
		s.hosts = prevHosts
		return err
	}
	if !equal(prevHosts, hosts) {
		r.attach() //nolint:errcheck // the front is open: attach only swaps the host table
	}
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

// Release stops serving the service, letting its in-flight requests finish for up
// to Options.ShutdownGrace; the listener closes with the last service. Releasing
// an unknown service succeeds.
func (r *Router) Release(ctx context.Context, svc traffic.ServiceRef) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: release %s: %w", svc.Service, err)
	}
	r.mu.Lock()
	s, ok := r.services[svc.Service]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	delete(r.services, svc.Service)
	serr := r.save()
	var f *front
	if len(r.services) == 0 {
		f, r.front = r.front, nil
	} else {
		r.attach() //nolint:errcheck // the front is open: attach only swaps the host table
	}
	r.mu.Unlock()
	if serr != nil {
		r.opts.Logger.Warn("router state", "service", svc.Service, "err", serr)
	}
	if f != nil {
		f.stopAccepting()
	}
	err := s.stop(ctx, r.opts.ShutdownGrace)
	if f != nil {
		f.close(ctx, r.opts.ShutdownGrace)
	}
	if err != nil {
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.services[service]; !ok || r.front == nil {
		return ""
	}
	return r.front.addr()
}

// AdminAddr returns the address of the admin listener serving a service, or ""
// when there is none.
func (r *Router) AdminAddr(service string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.services[service]; !ok || r.front == nil {
		return ""
	}
	return r.front.adminAddr()
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
	r.applyEndpoints(s, ref.Slot, endpoints)
}

// Close stops every service's proxy, like Release, but keeps Options.StateFile as
// it is, so a router made later on the same file restores them.
func (r *Router) Close(ctx context.Context) error {
	r.mu.Lock()
	services, f := r.services, r.front
	r.services, r.front = map[string]*service{}, nil
	r.mu.Unlock()
	if f != nil {
		f.stopAccepting()
	}
	var errs []error
	for name, s := range services {
		if err := s.stop(ctx, r.opts.ShutdownGrace); err != nil {
			errs = append(errs, fmt.Errorf("builtin: close %s: %w", name, err))
		}
	}
	if f != nil {
		f.close(ctx, r.opts.ShutdownGrace)
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
		r.applyEndpoints(s, slot, r.opts.Source.Endpoints(platform.SlotRef{Service: s.name, Slot: slot}))
	}
}

// applyEndpoints gives the proxy a slot's endpoints when they changed. Callers hold r.mu.
//
// It never leaves the service without any endpoint: when the platform reports no
// ready instance in either slot (a health check flapping on a loaded machine, an
// adoption in progress), the last endpoints stay, and passive health takes out
// those that really are gone; answering from them beats answering 502 to everyone.
func (r *Router) applyEndpoints(s *service, slot platform.Slot, eps []string) {
	if !slot.Valid() || equal(s.eps[slot], eps) {
		return
	}
	if len(eps) == 0 && len(s.eps[slot]) > 0 && len(s.eps[slot.Other()]) == 0 {
		if !s.holding[slot] {
			r.opts.Logger.Warn("router endpoints: no ready instance in either slot; keeping the last ones", "service", s.name, "slot", slot, "endpoints", s.eps[slot])
			s.holding[slot] = true
		}
		return
	}
	s.holding[slot] = false
	if err := s.px.SetEndpoints(slot, eps); err != nil {
		r.opts.Logger.Warn("router endpoints", "service", s.name, "slot", slot, "err", err)
		return
	}
	s.eps[slot] = append([]string(nil), eps...)
	r.opts.Logger.Info("router endpoints", "service", s.name, "slot", slot, "endpoints", eps)
	if r.services[s.name] == s {
		if err := r.save(); err != nil {
			r.opts.Logger.Warn("router state", "service", s.name, "err", err)
		}
	}
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

// listen returns the listener inherited for addr, or opens one and names the
// address in its error.
func (r *Router) listen(what, addr string) (net.Listener, error) {
	if ln, ok := r.opts.Listeners[addr]; ok && ln != nil {
		delete(r.opts.Listeners, addr)
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener on %s: %w", what, addr, err)
	}
	return ln, nil
}

// ListenerFiles returns duplicates of the listening sockets (the listen address
// and the admin one, by address), for a process taking over from this one; empty
// while no service is ensured. The caller closes the files.
func (r *Router) ListenerFiles() (map[string]*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]*os.File{}
	if r.front == nil {
		return out, nil
	}
	lns := map[string]net.Listener{r.opts.Listen: r.front.ln}
	if r.front.adminLn != nil {
		lns[r.opts.Admin] = r.front.adminLn
	}
	for addr, ln := range lns {
		fl, ok := ln.(interface{ File() (*os.File, error) })
		if !ok {
			return nil, fmt.Errorf("builtin: listener %s cannot be passed on", addr)
		}
		f, err := fl.File()
		if err != nil {
			return nil, fmt.Errorf("builtin: listener %s: %w", addr, err)
		}
		out[addr] = f
	}
	return out, nil
}

// Drain hands the router's connections over after ListenerFiles went to another
// process: it stops accepting, lets every client finish its current request (its
// response asks it to reconnect, which reaches the new process), waits for the
// connections to end for up to grace, then closes everything. The state file is
// left as it is: it is the new process's now.
func (r *Router) Drain(ctx context.Context, grace time.Duration) error {
	r.mu.Lock()
	services, f := r.services, r.front
	r.services, r.front = map[string]*service{}, nil
	r.opts.StateFile = ""
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	var err error
	if f != nil {
		if f.cancel != nil {
			f.cancel()
			<-f.served
		}
		err = f.px.Drain(ctx)
		f.close(ctx, grace)
	}
	for _, s := range services {
		s.close()
	}
	if err != nil {
		return fmt.Errorf("builtin: drain: %w", err)
	}
	return nil
}
