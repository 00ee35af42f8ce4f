package traffictest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// Config tells the suite how the router under test answers where the contract
// allows a choice.
type Config struct {
	// UnknownDefault, when set, is what Weights reads for a service never ensured or
	// released; when nil, such a read must be an error.
	UnknownDefault *traffic.Weights
	// NeedsEnsure says SetWeights of a service never ensured must fail; when false,
	// it may succeed or fail.
	NeedsEnsure bool
	// Service is the service name used by every subtest; "shop" when empty.
	Service string
	// AfterRelease, when set, checks what the implementation promises once a service
	// is released (for example that its listener is gone).
	AfterRelease func(t *testing.T, r traffic.Router, svc traffic.ServiceRef)
}

// Run runs the conformance suite; newRouter returns a fresh router for each subtest
// and registers its own cleanup with t.
func Run(t *testing.T, newRouter func(t *testing.T) traffic.Router, cfg Config) {
	t.Helper()
	if cfg.Service == "" {
		cfg.Service = "shop"
	}
	s := &suite{cfg: cfg, newRouter: newRouter, svc: traffic.ServiceRef{Service: cfg.Service}}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"WeightsReadBack", s.weightsReadBack},
		{"InvalidWeightsRefused", s.invalidRefused},
		{"SameKeyIsHarmless", s.sameKey},
		{"EnsureIsIdempotent", s.ensureIdempotent},
		{"UnknownService", s.unknownService},
		{"SetWeightsBeforeEnsure", s.setBeforeEnsure},
		{"Release", s.release},
		{"CancelledContext", s.cancelledContext},
		{"ConcurrentWrites", s.concurrentWrites},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	cfg       Config
	newRouter func(t *testing.T) traffic.Router
	svc       traffic.ServiceRef
}

// ensured returns a fresh router with the suite's service ensured.
func (s *suite) ensured(t *testing.T) traffic.Router {
	t.Helper()
	r := s.newRouter(t)
	if err := r.Ensure(t.Context(), s.route("ensure-1")); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return r
}

func (s *suite) route(key string) traffic.Route {
	return traffic.Route{Service: s.svc, Port: 8080, Key: key}
}

// mustRead reads the service's weights and fails the test unless they are want.
func (s *suite) mustRead(t *testing.T, r traffic.Router, want traffic.Weights, when string) {
	t.Helper()
	got, err := r.Weights(t.Context(), s.svc)
	if err != nil {
		t.Fatalf("Weights %s: %v", when, err)
	}
	if got != want {
		t.Fatalf("Weights %s = %s, want %s", when, got, want)
	}
}

func (s *suite) weightsReadBack(t *testing.T) {
	r := s.ensured(t)
	for i, pct := range []int{0, 1, 10, 50, 99, 100, 10, 0} {
		w := traffic.Split(platform.Blue, pct)
		if err := r.SetWeights(t.Context(), s.svc, w, fmt.Sprintf("w-%d", i)); err != nil {
			t.Fatalf("SetWeights %s: %v", w, err)
		}
		s.mustRead(t, r, w, "after SetWeights "+w.String())
	}
}

func (s *suite) invalidRefused(t *testing.T) {
	r := s.ensured(t)
	good := traffic.Split(platform.Blue, 10)
	if err := r.SetWeights(t.Context(), s.svc, good, "good"); err != nil {
		t.Fatalf("SetWeights %s: %v", good, err)
	}
	for i, w := range []traffic.Weights{
		{Blue: 10, Green: 10}, {Blue: 60, Green: 60}, {Blue: -10, Green: 110},
		{Blue: 110, Green: -10}, {Blue: 0, Green: 0}, {Blue: 101, Green: 0},
	} {
		if err := r.SetWeights(t.Context(), s.svc, w, fmt.Sprintf("bad-%d", i)); err == nil {
			t.Errorf("SetWeights %s: no error, want one", w)
		}
		s.mustRead(t, r, good, "after refused "+w.String())
	}
}

func (s *suite) sameKey(t *testing.T) {
	r := s.ensured(t)
	w := traffic.Split(platform.Blue, 25)
	for i := range 3 {
		if err := r.SetWeights(t.Context(), s.svc, w, "same-key"); err != nil {
			t.Fatalf("SetWeights #%d with the same key: %v", i+1, err)
		}
		s.mustRead(t, r, w, fmt.Sprintf("after SetWeights #%d", i+1))
	}
}

func (s *suite) ensureIdempotent(t *testing.T) {
	r := s.ensured(t)
	w := traffic.Split(platform.Blue, 30)
	if err := r.SetWeights(t.Context(), s.svc, w, "w"); err != nil {
		t.Fatalf("SetWeights: %v", err)
	}
	for _, key := range []string{"ensure-1", "ensure-2"} {
		if err := r.Ensure(t.Context(), s.route(key)); err != nil {
			t.Fatalf("Ensure again (key %s): %v", key, err)
		}
		s.mustRead(t, r, w, "after a repeated Ensure")
	}
}

// checkUnknown checks Weights of a service that is not ensured.
func (s *suite) checkUnknown(t *testing.T, r traffic.Router, svc traffic.ServiceRef, when string) {
	t.Helper()
	got, err := r.Weights(t.Context(), svc)
	switch {
	case s.cfg.UnknownDefault == nil && err == nil:
		t.Fatalf("Weights of %s %s = %s and no error, want an error", svc.Service, when, got)
	case s.cfg.UnknownDefault != nil && err != nil:
		t.Fatalf("Weights of %s %s: %v, want the default %s", svc.Service, when, err, *s.cfg.UnknownDefault)
	case s.cfg.UnknownDefault != nil && got != *s.cfg.UnknownDefault:
		t.Fatalf("Weights of %s %s = %s, want the default %s", svc.Service, when, got, *s.cfg.UnknownDefault)
	}
}

func (s *suite) unknownService(t *testing.T) {
	r := s.newRouter(t)
	s.checkUnknown(t, r, traffic.ServiceRef{Service: "never-ensured"}, "never ensured")
}

func (s *suite) setBeforeEnsure(t *testing.T) {
	if !s.cfg.NeedsEnsure {
		t.Skip("the router accepts weights before Ensure")
	}
	r := s.newRouter(t)
	if err := r.SetWeights(t.Context(), s.svc, traffic.Split(platform.Blue, 10), "early"); err == nil {
		t.Fatal("SetWeights before Ensure: no error, want one")
	}
	s.checkUnknown(t, r, s.svc, "after a refused SetWeights")
}

func (s *suite) release(t *testing.T) {
	r := s.ensured(t)
	if err := r.SetWeights(t.Context(), s.svc, traffic.Split(platform.Blue, 40), "w"); err != nil {
		t.Fatalf("SetWeights: %v", err)
	}
	for i := range 2 {
		if err := r.Release(t.Context(), s.svc); err != nil {
			t.Fatalf("Release #%d: %v", i+1, err)
		}
	}
	s.checkUnknown(t, r, s.svc, "after Release")
	if s.cfg.AfterRelease != nil {
		s.cfg.AfterRelease(t, r, s.svc)
	}
	if err := r.Release(t.Context(), traffic.ServiceRef{Service: "never-ensured"}); err != nil {
		t.Fatalf("Release of a service never ensured: %v", err)
	}
	if err := r.Ensure(t.Context(), s.route("ensure-again")); err != nil {
		t.Fatalf("Ensure after Release: %v", err)
	}
	w := traffic.Split(platform.Blue, 5)
	if err := r.SetWeights(t.Context(), s.svc, w, "w-again"); err != nil {
		t.Fatalf("SetWeights after a new Ensure: %v", err)
	}
	s.mustRead(t, r, w, "after Release and a new Ensure")
}

func (s *suite) cancelledContext(t *testing.T) {
	r := s.ensured(t)
	w := traffic.Split(platform.Blue, 20)
	if err := r.SetWeights(t.Context(), s.svc, w, "w"); err != nil {
		t.Fatalf("SetWeights: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.SetWeights(ctx, s.svc, traffic.All(platform.Blue), "cancelled"); err == nil {
		t.Error("SetWeights with a cancelled context: no error, want one")
	}
	if _, err := r.Weights(ctx, s.svc); err == nil {
		t.Error("Weights with a cancelled context: no error, want one")
	}
	if err := r.Ensure(ctx, traffic.Route{Service: traffic.ServiceRef{Service: "other"}, Key: "cancelled"}); err == nil {
		t.Error("Ensure with a cancelled context: no error, want one")
	}
	if err := r.Release(ctx, s.svc); err == nil {
		t.Error("Release with a cancelled context: no error, want one")
	}
	s.mustRead(t, r, w, "after calls with a cancelled context")
	// The key refused under a cancelled context was never applied, so it still works.
	if err := r.SetWeights(t.Context(), s.svc, traffic.All(platform.Blue), "cancelled"); err != nil {
		t.Fatalf("SetWeights with the key a cancelled call used: %v", err)
	}
	s.mustRead(t, r, traffic.All(platform.Blue), "after reusing the cancelled call's key")
}

func (s *suite) concurrentWrites(t *testing.T) {
	r := s.ensured(t)
	written := map[traffic.Weights]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		w := traffic.Split(platform.Blue, i*5)
		written[w] = true
		wg.Go(func() {
			if err := r.SetWeights(t.Context(), s.svc, w, fmt.Sprintf("c-%d", i)); err != nil {
				errs <- fmt.Errorf("SetWeights %s: %w", w, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := r.Weights(t.Context(), s.svc)
	if err != nil {
		t.Fatalf("Weights: %v", err)
	}
	if !written[got] {
		t.Fatalf("Weights after concurrent writes = %s, which no call wrote", got)
	}
}
