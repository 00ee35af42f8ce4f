package builtin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
)

// service is the data plane of one ensured service.
type service struct {
	name    string
	px      *proxy.Proxy
	ln      net.Listener
	admin   *http.Server
	adminLn net.Listener
	eps     map[platform.Slot][]string
	keys    keySet
	cancel  context.CancelFunc
	served  chan struct{} // closed when the proxy's Serve returned
	resyncd chan struct{} // closed when the resync loop returned
}

// start opens the service's listeners and starts its proxy and resync loop.
// Callers hold r.mu.
func (r *Router) start(name string) (*service, error) {
	ln, err := listen("proxy", r.opts.Listen)
	if err != nil {
		return nil, err
	}
	cfg := r.opts.Proxy
	cfg.Service = name
	cfg.Logger = r.opts.Logger.With("service", name)
	s := &service{
		name: name, px: proxy.New(cfg), ln: ln, eps: map[platform.Slot][]string{},
		keys: newKeySet(1024), served: make(chan struct{}), resyncd: make(chan struct{}),
	}
	if r.opts.Admin != "" {
		s.adminLn, err = listen("admin", r.opts.Admin)
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.admin = serveAdmin(s.adminLn, s.px.AdminHandler())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.served)
		err := s.px.Serve(ctx, ln)
		if err != nil && !errors.Is(err, proxy.ErrClosed) && !errors.Is(err, context.Canceled) {
			r.opts.Logger.Error("router stopped serving", "service", name, "addr", ln.Addr().String(), "err", err)
		}
	}()
	go r.resyncLoop(ctx, s)
	return s, nil
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

// stop stops accepting, drains the proxy for up to grace, then closes everything and
// waits for the service's goroutines.
func (s *service) stop(ctx context.Context, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	// Serve must have returned before Shutdown: the proxy's start-up (run by Serve)
	// and its Close must not overlap. Cancelling Serve's context closes the listener;
	// connections already accepted keep being served until Shutdown drains them.
	s.cancel()
	<-s.served
	<-s.resyncd
	s.ln.Close() // Serve leaves a listener open when it finds the proxy draining
	var errs []error
	if err := s.px.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.admin != nil {
		if err := s.admin.Shutdown(ctx); err != nil {
			s.admin.Close()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop: %w", errors.Join(errs...))
	}
	return nil
}

func (s *service) addr() string { return s.ln.Addr().String() }

func (s *service) adminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
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
