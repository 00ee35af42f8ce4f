package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// result counts the answers of one mode's load.
type result struct {
	sent, ok, refused, status5xx, other int
	p50, p99                            time.Duration
	firstErr                            string
}

// failed is every request that did not get a 2xx-4xx answer.
func (r result) failed() int { return r.refused + r.status5xx + r.other }

// load sends GETs on a fixed schedule (open loop: each request at its time,
// whatever the answers' latency) over keep-alive connections.
type load struct {
	url  string
	rate int
	hc   *http.Client

	mu   sync.Mutex
	res  result
	lats []time.Duration
	wg   sync.WaitGroup
	stop context.CancelFunc
	done chan struct{}
}

func startLoad(url string, rate int) *load {
	l := &load{url: url, rate: rate, done: make(chan struct{}), hc: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	go l.run(ctx)
	return l
}

// run fires one request per tick until ctx is done.
func (l *load) run(ctx context.Context) {
	defer close(l.done)
	every := time.Second / time.Duration(l.rate)
	next := time.Now()
	for {
		next = next.Add(every)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		l.wg.Add(1)
		go l.one()
	}
}

// one sends a request and classifies its outcome.
func (l *load) one() {
	defer l.wg.Done()
	start := time.Now()
	resp, err := l.hc.Get(l.url)
	status := 0
	if err == nil {
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // the status is what counts
		resp.Body.Close()
		status = resp.StatusCode
	}
	lat := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.res.sent++
	switch {
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		l.res.refused++
		l.note("refused: " + err.Error())
	case err != nil:
		l.res.other++
		l.note(err.Error())
	case status >= 500:
		l.res.status5xx++
		l.note(resp.Status)
	default:
		l.res.ok++
		l.lats = append(l.lats, lat)
	}
}

// note keeps the first failure's description. Callers hold l.mu.
func (l *load) note(s string) {
	if l.res.firstErr == "" {
		l.res.firstErr = time.Now().UTC().Format("15:04:05.000") + " " + s
	}
}

// count returns how many requests were answered so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res.sent
}

// end stops sending, waits for the requests in flight and returns the counts.
func (l *load) end() result {
	l.stop()
	<-l.done
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.lats); n > 0 {
		slices.Sort(l.lats)
		l.res.p50, l.res.p99 = l.lats[n/2], l.lats[n*99/100]
	}
	return l.res
}

// waitRequests waits until n more requests were answered.
func (l *load) waitRequests(ctx context.Context, n int) error {
	target := l.count() + n
	for l.count() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
