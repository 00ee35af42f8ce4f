package builtin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
)

// service is the data plane of one ensured service: a proxy that the front
// proxy hands its requests to.
type service struct {
	name    string
	hosts   []string // Host / SNI names; none: the listen address's default service
	px      *proxy.Proxy
	eps     map[platform.Slot][]string
	holding map[platform.Slot]bool // the slot keeps its last endpoints (see applyEndpoints)
	keys    keySet
	cancel  context.CancelFunc
	resyncd chan struct{} // closed when the resync loop returned
}

// front is the router's listener with the proxy that owns it: it accepts, speaks
// TLS and HTTP/2, and dispatches each request to a service's proxy.
type front struct {
	px      *proxy.Proxy
	ln      net.Listener
	admin   *http.Server
	adminLn net.Listener
	cancel  context.CancelFunc
	served  chan struct{} // closed when the proxy's Serve returned
}

// newService builds a service's proxy and starts its resync loop; it listens on
// nothing. Callers hold r.mu.
func (r *Router) newService(name string, hosts []string) *service {
	cfg := r.opts.Proxy
	cfg.Service = name
	cfg.Logger = r.opts.Logger.With("service", name)
	s := &service{
		name: name, hosts: hosts, px: proxy.New(cfg), eps: map[platform.Slot][]string{}, holding: map[platform.Slot]bool{},
		keys: newKeySet(1024), resyncd: make(chan struct{}),
	}
	if r.opts.Mirror.Percent > 0 {
		s.px.SetMirror(r.opts.Mirror) //nolint:errcheck // validated by New
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go r.resyncLoop(ctx, s)
	return s
}

// attach points the front's host table at the ensured services, opening the
// front first when there is none. Callers hold r.mu.
func (r *Router) attach() error {
	if r.front == nil {
		f, err := r.openFront()
		if err != nil {
			return err
		}
		r.front = f
		defer r.serveFront(f)
	}
	byHost := map[string]*proxy.Proxy{}
	var def *proxy.Proxy
	for _, s := range r.services {
		for _, h := range s.hosts {
			byHost[h] = s.px
		}
		if len(s.hosts) == 0 {
			def = s.px
		}
	}
	r.front.px.SetHosts(byHost, def)
	return nil
}

// openFront opens the listen (and admin) listeners and the front proxy; it serves
// nothing yet, so no connection is accepted before the host table is set.
func (r *Router) openFront() (*front, error) {
	ln, err := r.listen("proxy", r.opts.Listen)
	if err != nil {
		return nil, err
	}
	cfg := r.opts.Proxy
	cfg.Service = "front"
	cfg.Logger = r.opts.Logger
	f := &front{px: proxy.New(cfg), ln: ln, served: make(chan struct{})}
	if r.opts.Admin != "" {
		f.adminLn, err = r.listen("admin", r.opts.Admin)
		if err != nil {
			ln.Close()
			f.px.Close()
			return nil, err
		}
		f.admin = startAdmin(f.adminLn, http.HandlerFunc(r.serveAdmin))
	}
	return f, nil
}

// serveFront starts accepting on the front's listener.
func (r *Router) serveFront(f *front) {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() {
		defer close(f.served)
		err := f.px.Serve(ctx, f.ln)
		if err != nil && !errors.Is(err, proxy.ErrClosed) && !errors.Is(err, context.Canceled) {
			r.opts.Logger.Error("router stopped serving", "addr", f.ln.Addr().String(), "err", err)
		}
	}()
}

// serveAdmin serves a service's admin handler: the one named by ?service=, else
// the default service, else the only one.
func (r *Router) serveAdmin(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	var px *proxy.Proxy
	if s, ok := r.services[req.URL.Query().Get("service")]; ok {
		px = s.px
	}
	for _, s := range r.services {
		if px == nil && (len(s.hosts) == 0 || len(r.services) == 1) {
			px = s.px
		}
	}
	r.mu.Unlock()
	if px == nil {
		http.Error(w, "no such service; name one with ?service=", http.StatusNotFound)
		return
	}
	px.AdminHandler().ServeHTTP(w, req)
}

// checkHosts reports when service name with hosts could not be told from another
// service on the listen address. Callers hold r.mu.
func (r *Router) checkHosts(name string, hosts []string) error {
	for _, o := range r.services {
		if o.name == name {
			continue
		}
		if len(hosts) == 0 && len(o.hosts) == 0 {
			return fmt.Errorf("%w (%s; give the services hosts to share the address)", ErrAddressTaken, o.name)
		}
		for _, h := range hosts {
			if slices.Contains(o.hosts, h) {
				return fmt.Errorf("%w (%s serves host %s)", ErrAddressTaken, o.name, h)
			}
		}
	}
	return nil
}

// normalHosts lowercases and sorts host names, without ports or a final dot.
func normalHosts(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if h = strings.ToLower(strings.TrimSuffix(h, ".")); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// route applies match rules and the sticky cookie to the service's proxy.
func (s *service) route(rules []proxy.Rule, sticky string) error {
	if err := s.px.SetRules(rules); err != nil {
		return err
	}
	return s.px.SetSticky(sticky)
}

// resyncLoop re-reads the service's endpoints from the source every Options.Resync.
func (r *Router) resyncLoop(ctx context.Context, s *service) {
	defer close(s.resyncd)
	if r.opts.Resync < 0 || r.opts.Source == nil {
		return
	}
	t := time.NewTicker(r.opts.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		if r.services[s.name] == s {
			r.resync(s)
		}
		r.mu.Unlock()
	}
}

// stop drains the service's proxy for up to grace, then closes it and waits for
// its resync loop.
func (s *service) stop(ctx context.Context, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	s.cancel()
	<-s.resyncd
	if err := s.px.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop %s: %w", s.name, err)
	}
	return nil
}

// close stops the service at once.
func (s *service) close() {
	s.cancel()
	<-s.resyncd
	s.px.Close()
}

// stopAccepting closes the front's listener; connections already accepted stay
// served.
func (f *front) stopAccepting() {
	// Serve must have returned before the proxy closes: the proxy's start-up (run
	// by Serve) and its Close must not overlap.
	if f.cancel != nil {
		f.cancel()
		<-f.served
	}
	f.ln.Close() // Serve leaves a listener open when it finds the proxy draining
}

// close closes the front's connections and its admin listener (gracefully for up
// to grace).
func (f *front) close(ctx context.Context, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	f.px.Close()
	if f.admin != nil {
		if err := f.admin.Shutdown(ctx); err != nil {
			f.admin.Close()
		}
	}
}

// startAdmin serves h on ln.
func startAdmin(ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on stop
	return srv
}

func (f *front) addr() string { return f.ln.Addr().String() }

func (f *front) adminAddr() string {
	if f.adminLn == nil {
		return ""
	}
	return f.adminLn.Addr().String()
}

// keySet remembers the last n idempotency keys applied.
type keySet struct {
	n     int
	set   map[string]bool
	order []string
}

func newKeySet(n int) keySet { return keySet{n: n, set: map[string]bool{}} }

// seen reports whether key was applied; the empty key never is.
func (k *keySet) seen(key string) bool { return key != "" && k.set[key] }

// add remembers key, forgetting the oldest beyond n.
func (k *keySet) add(key string) {
	if key == "" || k.set[key] {
		return
	}
	k.set[key] = true
	k.order = append(k.order, key)
	if len(k.order) > k.n {
		delete(k.set, k.order[0])
		k.order = k.order[1:]
	}
}
