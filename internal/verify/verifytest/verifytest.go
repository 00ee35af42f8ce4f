package verifytest

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/verify"
)

// Case is a query whose answer the provider's test prepared in the source.
type Case struct {
	Name  string
	Query verify.Query
	// Want is the expected main value, or NaN to check only Values.
	Want float64
	// Values are expected named values.
	Values map[string]float64
	// Tolerance is the allowed absolute difference.
	Tolerance float64
	// MinPoints is the fewest sample points expected when the query asks for a sample.
	MinPoints int
}

// Fixture is a provider and what its test prepared for the suite.
type Fixture struct {
	// Provider is connected to a source holding the known data.
	Provider verify.Provider
	// Known are queries with known answers.
	Known []Case
	// NoData is a valid query for which the source has no data.
	NoData verify.Query
	// Invalid is a query the source rejects (a syntax error).
	Invalid verify.Query
	// Unreachable is the same kind of provider pointed at a source that is not
	// there; nil skips those checks (an in-process provider).
	Unreachable verify.Provider
}

// Run runs the conformance suite against a fixture.
func Run(t *testing.T, f Fixture) {
	t.Run("Check", func(t *testing.T) {
		if err := f.Provider.Check(ctx(t)); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("Known", func(t *testing.T) {
		for _, c := range f.Known {
			t.Run(c.Name, func(t *testing.T) { known(t, f.Provider, c) })
		}
	})
	t.Run("NoData", func(t *testing.T) {
		_, err := f.Provider.Query(ctx(t), f.NoData)
		if !errors.Is(err, verify.ErrNoData) {
			t.Fatalf("query without data: got %v, want ErrNoData", err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		r, err := f.Provider.Query(ctx(t), f.Invalid)
		if err == nil || errors.Is(err, verify.ErrNoData) {
			t.Fatalf("invalid query %q: got %+v, %v; want an error that is not ErrNoData", f.Invalid.Text, r, err)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := f.Provider.Query(c, f.Known[0].Query); err == nil {
			t.Fatalf("query with a cancelled context succeeded")
		}
	})
	t.Run("Concurrent", func(t *testing.T) { concurrent(t, f) })
	if f.Unreachable != nil {
		t.Run("Unreachable", func(t *testing.T) {
			if err := f.Unreachable.Check(ctx(t)); err == nil {
				t.Fatalf("Check of an unreachable source succeeded")
			}
			_, err := f.Unreachable.Query(ctx(t), f.Known[0].Query)
			if err == nil || errors.Is(err, verify.ErrNoData) {
				t.Fatalf("query of an unreachable source: %v; want an error that is not ErrNoData", err)
			}
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func known(t *testing.T, p verify.Provider, c Case) {
	r, err := p.Query(ctx(t), c.Query)
	if err != nil {
		t.Fatalf("query %q: %v", c.Query.Text, err)
	}
	if !math.IsNaN(c.Want) && !(math.Abs(r.Value-c.Want) <= c.Tolerance) {
		t.Fatalf("query %q = %v, want %v ± %v", c.Query.Text, r.Value, c.Want, c.Tolerance)
	}
	for k, want := range c.Values {
		got, ok := r.Values[k]
		if !ok || math.Abs(got-want) > c.Tolerance {
			t.Fatalf("query %q: %s = %v (present %v), want %v", c.Query.Text, k, got, ok, want)
		}
	}
	if c.Query.Sample && len(r.Sample) < c.MinPoints {
		t.Fatalf("query %q: %d points, want at least %d", c.Query.Text, len(r.Sample), c.MinPoints)
	}
}

// concurrent runs the known queries from several goroutines at once.
func concurrent(t *testing.T, f Fixture) {
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(f.Known))
	for range 8 {
		wg.Go(func() {
			for _, c := range f.Known {
				if _, err := f.Provider.Query(ctx(t), c.Query); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent query: %v", err)
	}
}

// BadAnswer is an odd answer of an HTTP source.
type BadAnswer struct {
	Name    string
	Handler http.HandlerFunc
	// Want is a phrase the error must contain (lower case compare); "" checks only
	// that there is an error.
	Want string
	// Provider says the error must be a *verify.ProviderError: the answer says
	// the provider is unavailable or is not what its API documents, which is not
	// a verdict about the canary.
	Provider bool
}

// BadAnswers are the answers every HTTP provider must turn into errors.
func BadAnswers(slow time.Duration) []BadAnswer {
	return []BadAnswer{
		{"html error page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		}, "502", true},
		{"html with 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>login</body></html>"))
		}, "", false},
		{"wrong json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"unexpected": [1, 2, 3]}`))
		}, "", false},
		{"truncated json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"success","data":{"resultType":"vec`))
		}, "", true},
		{"empty body", func(w http.ResponseWriter, r *http.Request) {}, "", true},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}, "500", true},
		{"rate limited", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}, "429", true},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(slow):
			case <-r.Context().Done():
			}
		}, "", true},
	}
}

// RunBadAnswers serves each bad answer and checks that a provider built for that
// server's URL by newProvider returns an error, never a value or ErrNoData. The
// query's context times out after timeout.
func RunBadAnswers(t *testing.T, newProvider func(url string) verify.Provider, q verify.Query, timeout time.Duration) {
	for _, b := range BadAnswers(timeout + 250*time.Millisecond) {
		t.Run(b.Name, func(t *testing.T) {
			srv := httptest.NewServer(b.Handler)
			defer srv.Close()
			c, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			r, err := newProvider(srv.URL).Query(c, q)
			if err == nil || errors.Is(err, verify.ErrNoData) {
				t.Fatalf("got %+v, %v; want an error", r, err)
			}
			if b.Want != "" && !strings.Contains(strings.ToLower(err.Error()), b.Want) {
				t.Fatalf("error %q does not mention %q", err, b.Want)
			}
			var pe *verify.ProviderError
			if b.Provider && !errors.As(err, &pe) {
				t.Fatalf("error %q is not a provider error", err)
			}
		})
	}
}
