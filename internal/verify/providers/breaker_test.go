package providers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

// flaky is a Prometheus that answers with the status it is set to and counts calls.
type flaky struct {
	status atomic.Int64
	calls  atomic.Int64
	slow   atomic.Bool // answer only after the caller's deadline
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.slow.Load() {
		io.Copy(io.Discard, r.Body) // then the server notices the caller hang up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	code := int(f.status.Load())
	w.WriteHeader(code)
	if code == http.StatusOK {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000600,"0.5"]}]}}`)
		return
	}
	fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"nope"}`)
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestCircuitBreaker drives one provider through failures and recovery: after
// three failed calls in a row it is not called for the cooldown, one probe then
// closes the circuit or opens it for twice as long, and answers that blame the
// query (4xx) or calls the caller gave up on never open it.
func TestCircuitBreaker(t *testing.T) {
	srv := &flaky{}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	src := providers.NewSource(providers.Types, verify.Deps{Now: clock.now}, providers.WithBreaker(3, time.Second))
	env := &spec.Environment{Spec: spec.EnvironmentSpec{Providers: []spec.ProviderSpec{{Name: "prom", Type: "prometheus", URL: ts.URL}}}}
	p, err := src.Provider(context.Background(), "test", env, "prom")
	if err != nil {
		t.Fatal(err)
	}
	q := verify.Query{Text: "up", Slot: "blue", End: time.Unix(1700000600, 0), Window: time.Minute}
	steps := []struct {
		name      string
		status    int
		advance   time.Duration
		cancelled bool
		wantErr   string // "" means a value
		wantCalls int64  // calls the server saw so far
	}{
		{"first failure", 503, 0, false, "503", 1},
		{"second failure", 503, 0, false, "503", 2},
		{"third failure opens the circuit", 503, 0, false, "503", 3},
		{"open: not called", 200, 0, false, "circuit open", 3},
		{"still open just before the cooldown ends", 200, 999 * time.Millisecond, false, "circuit open", 3},
		{"the probe after the cooldown closes it", 200, time.Millisecond, false, "", 4},
		{"closed: called", 200, 0, false, "", 5},
		{"rate limited 1", 429, 0, false, "429", 6},
		{"rate limited 2", 429, 0, false, "429", 7},
		{"rate limited 3", 429, 0, false, "429", 8},
		{"rate limited 4: 429s never open it", 429, 0, false, "429", 9},
		{"failure 1 again", 500, 0, false, "500", 10},
		{"a 429 between failures does not reset the count", 429, 0, false, "429", 11},
		{"failure 2 again", 500, 0, false, "500", 12},
		{"failure 3 opens it again", 502, 0, false, "502", 13},
		{"failed probe", 503, time.Second, false, "503", 14},
		{"open for twice as long", 200, time.Second, false, "circuit open", 14},
		{"probe after the doubled cooldown", 200, time.Second, false, "", 15},
		{"bad query 1", 400, 0, false, "bad_data", 16},
		{"bad query 2", 400, 0, false, "bad_data", 17},
		{"bad query 3", 400, 0, false, "bad_data", 18},
		{"bad queries leave it closed", 400, 0, false, "bad_data", 19},
		{"a call the caller cancelled", 503, 0, true, "canceled", 19},
		{"503 after the cancelled call is the first failure", 503, 0, false, "503", 20},
		{"second", 503, 0, false, "503", 21},
		{"a call past its deadline does not count", -1, 0, false, "deadline exceeded", 22},
		{"another past its deadline", -1, 0, false, "deadline exceeded", 23},
		{"third failure, counted after them, opens it", 503, 0, false, "503", 24},
		{"open", 200, 0, false, "circuit open", 24},
		{"an answer resets the count", 200, time.Second, false, "", 25},
		{"so one failure does not open it", 503, 0, false, "503", 26},
		{"closed", 200, 0, false, "", 27},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			srv.slow.Store(s.status < 0)
			srv.status.Store(int64(max(s.status, 200)))
			clock.advance(s.advance)
			// A budget shorter than the shared client's first backoff: each
			// query is one call.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			if s.cancelled {
				cancel()
			}
			defer cancel()
			_, err := p.Query(ctx, q)
			var pe *verify.ProviderError
			if s.wantErr != "" && s.status != 400 && !errors.As(err, &pe) {
				t.Errorf("error %v is not a provider error", err)
			}
			switch {
			case s.wantErr == "" && err != nil:
				t.Fatalf("error %v, want a value", err)
			case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, s.wantErr)
			}
			if got := srv.calls.Load(); got != s.wantCalls {
				t.Fatalf("server saw %d calls, want %d", got, s.wantCalls)
			}
		})
	}
}
