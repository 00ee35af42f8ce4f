package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// response is one user request through the router.
type response struct {
	sent, done time.Time
	status     int    // 0: the request failed without an answer
	version    string // the X-Sample-Version that answered
}

// failed reports whether the user saw a failure.
func (r response) failed() bool { return r.status == 0 || r.status >= 500 }

// load sends requests at a fixed rate (open loop: a slow answer does not delay the
// next request) and keeps every outcome.
type load struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	rs     []response
}

func newLoad(url string) *load {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	return &load{url: url, client: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// run sends rate requests per second until ctx is done, each on schedule.
func (l *load) run(ctx context.Context, rate int) {
	every := time.Second / time.Duration(rate)
	next := time.Now()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		next = next.Add(every)
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wg.Go(func() { l.one(ctx, next) })
	}
}

// one sends one request that was due at sent.
func (l *load) one(ctx context.Context, sent time.Time) {
	r := response{sent: sent}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, l.url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = l.client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status matters
			resp.Body.Close()
			r.status, r.version = resp.StatusCode, resp.Header.Get("X-Sample-Version")
		}
	}
	r.done = time.Now()
	l.mu.Lock()
	l.rs = append(l.rs, r)
	l.mu.Unlock()
}

// since returns the responses to requests sent at or after t.
func (l *load) since(t time.Time) []response {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []response
	for _, r := range l.rs {
		if !r.sent.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

// weightsSample is one reading of the router's weights.
type weightsSample struct {
	at          time.Time
	blue, green int
}

// watcher polls the router's admin /weights and keeps each change.
type watcher struct {
	url string
	mu  sync.Mutex
	ws  []weightsSample
}

// run polls every period until ctx is done.
func (w *watcher) run(ctx context.Context, period time.Duration) {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var v struct {
			Weights struct{ Blue, Green int } `json:"weights"`
		}
		resp, err := client.Get(w.url)
		if err != nil {
			continue
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil {
			continue
		}
		w.add(weightsSample{at: time.Now(), blue: v.Weights.Blue, green: v.Weights.Green})
	}
}

func (w *watcher) add(s weightsSample) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.ws); n > 0 && w.ws[n-1].blue == s.blue && w.ws[n-1].green == s.green {
		return
	}
	w.ws = append(w.ws, s)
}

// changes returns the weight changes seen so far.
func (w *watcher) changes() []weightsSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]weightsSample(nil), w.ws...)
}
