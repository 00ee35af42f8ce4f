package verifytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/verify"
)

// Refusal is how a rate-limited or overloaded provider refuses the first
// requests of a query: with Status and Header, Times times in a row.
type Refusal struct {
	Name   string
	Status int
	Header func(now time.Time) http.Header
	Times  int
	// Wait is the least time the provider asked for between the refusal and
	// the next request; the client must not come back sooner.
	Wait time.Duration
}

// Refusals are the ways every remote provider is refused for now: 429 with each
// header that says when to come back (Retry-After in seconds and as an HTTP
// date, Datadog's X-RateLimit-Reset and X-RateLimit-Period), 429 without one,
// and 503 with Retry-After.
func Refusals() []Refusal {
	h := func(k, v string) func(time.Time) http.Header {
		return func(time.Time) http.Header { return http.Header{k: {v}} }
	}
	return []Refusal{
		{"429 Retry-After seconds", http.StatusTooManyRequests, h("Retry-After", "1"), 2, time.Second},
		{"429 Retry-After HTTP date", http.StatusTooManyRequests, func(now time.Time) http.Header {
			return http.Header{"Retry-After": {now.Add(2 * time.Second).UTC().Format(http.TimeFormat)}}
		}, 1, time.Second},
		{"429 X-RateLimit-Reset", http.StatusTooManyRequests, func(time.Time) http.Header {
			return http.Header{"X-Ratelimit-Reset": {"1"}, "X-Ratelimit-Period": {"10"}, "X-Ratelimit-Limit": {"100"}, "X-Ratelimit-Remaining": {"0"}}
		}, 1, time.Second},
		{"429 X-RateLimit-Period", http.StatusTooManyRequests, h("X-Ratelimit-Period", "1"), 1, time.Second},
		{"429 without a header", http.StatusTooManyRequests, h("X-Nothing", ""), 2, 0},
		{"503 Retry-After", http.StatusServiceUnavailable, h("Retry-After", "1"), 1, time.Second},
	}
}

// refuser answers the first Times requests with the refusal, then passes
// requests to the provider's good fake, and notes when requests came.
type refuser struct {
	r    Refusal
	next http.Handler
	mu   sync.Mutex
	seen []time.Time
	// asked is when the last refusal said to come back.
	asked time.Time
	early []string
}

func (f *refuser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	now := time.Now()
	f.seen = append(f.seen, now)
	if now.Before(f.asked) {
		f.early = append(f.early, fmt.Sprintf("request %d came %s before the time asked", len(f.seen), f.asked.Sub(now)))
	}
	refuse := len(f.seen) <= f.r.Times
	if refuse {
		h := f.r.Header(now)
		for k, v := range h {
			w.Header()[k] = v
		}
		f.asked = now.Add(f.r.Wait)
		if at, ok := verify.RetryAt(h, now); ok && f.r.Wait > 0 {
			f.asked = at
		}
	}
	f.mu.Unlock()
	if refuse {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.r.Status)
		fmt.Fprint(w, `{"errors":["rate limit exceeded"],"status":"error","error":"rate limit exceeded","message":"Rate limit exceeded."}`)
		return
	}
	f.next.ServeHTTP(w, r)
}

// RunRateLimits checks that a provider built by newProvider for a server's URL
// honours every Refusal: good is the URL of the provider's fake, which answers
// q well; in front of it a server refuses the first requests. The query must
// succeed, and no request may come before the time the refusal asked for. A
// refusal asking for longer than the query's deadline ends the query at once
// with a *verify.ProviderError carrying that time.
func RunRateLimits(t *testing.T, newProvider func(url string) verify.Provider, good string, q verify.Query) {
	target, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Refusals() {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			f := &refuser{r: r, next: httputil.NewSingleHostReverseProxy(target)}
			srv := httptest.NewServer(f)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := newProvider(srv.URL).Query(ctx, q); err != nil {
				t.Fatalf("query after %d refusal(s): %v", r.Times, err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.seen) <= r.Times {
				t.Fatalf("%d request(s), want the %d refused and more", len(f.seen), r.Times)
			}
			for _, e := range f.early {
				t.Error(e)
			}
		})
	}
	t.Run("longer than the query may take", func(t *testing.T) {
		t.Parallel()
		f := &refuser{r: Refusal{Status: http.StatusTooManyRequests, Times: 1 << 30,
			Header: func(time.Time) http.Header { return http.Header{"Retry-After": {"3600"}} }}}
		srv := httptest.NewServer(f)
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := newProvider(srv.URL).Query(ctx, q)
		var pe *verify.ProviderError
		switch {
		case !errors.As(err, &pe):
			t.Fatalf("error %v, want a provider error", err)
		case ctx.Err() != nil:
			t.Fatalf("the query waited until its deadline: %v", err)
		case time.Until(pe.RetryAfter) < 59*time.Minute:
			t.Fatalf("retry after %s, want the hour the provider asked for", pe.RetryAfter)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.seen) != 1 {
			t.Fatalf("%d requests, want 1: a wait past the deadline is not worth starting", len(f.seen))
		}
	})
}
