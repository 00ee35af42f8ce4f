package loadtest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// config is what one generator run needs; the step fills it from the workflow.
type config struct {
	urls        []string    // where requests go, used in turn
	header      http.Header // sent with every request; Host sets the request's host
	method      string
	rate        int // requests per second
	concurrency int // requests in flight at most
	duration    time.Duration
	timeout     time.Duration // per request, from when it is sent
	count       int           // requests to schedule; 0 means rate x duration
	transport   http.RoundTripper
}

// requests returns how many requests the run schedules: rate x duration, at least one.
func (c config) requests() int {
	if c.count > 0 {
		return c.count
	}
	rate, whole, part := int64(c.rate), int64(c.duration/time.Second), int64(c.duration%time.Second)
	n := rate*whole + (rate*part+int64(time.Second)-1)/int64(time.Second)
	return int(max(n, 1))
}

// job is one scheduled request: its sequence number and the time it was due.
type job struct {
	seq int
	due time.Time
}

// generator sends one run of load and counts its outcome.
type generator struct {
	cfg    config
	client *http.Client
	urls   []string
	stats  *stats
	unsent atomic.Int64
}

// newGenerator prepares a run; it opens no connection until run.
func newGenerator(cfg config) *generator {
	tr := cfg.transport
	if tr == nil {
		tr = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.timeout}).DialContext,
			MaxIdleConnsPerHost: cfg.concurrency,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}
	}
	return &generator{cfg: cfg, client: &http.Client{Transport: tr, CheckRedirect: noRedirects}, urls: cfg.urls, stats: newStats()}
}

// noRedirects makes a redirect an answer (a 3xx success) rather than another request.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// run sends the load from start until the duration has passed and every request in
// flight has its answer, or until ctx is done, which stops every worker at once.
func (g *generator) run(ctx context.Context, start time.Time) {
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range g.cfg.concurrency {
		wg.Go(func() {
			for j := range jobs {
				g.send(ctx, j)
			}
		})
	}
	g.schedule(ctx, start, jobs)
	close(jobs)
	wg.Wait()
	if t, ok := g.client.Transport.(interface{ CloseIdleConnections() }); ok && g.cfg.transport == nil {
		t.CloseIdleConnections()
	}
}

// schedule hands each request to a worker when it is due, whatever earlier requests
// did. Requests still waiting for a free worker when the duration ends are not sent.
func (g *generator) schedule(ctx context.Context, start time.Time, jobs chan<- job) {
	n := g.cfg.requests()
	end := time.NewTimer(time.Until(start.Add(g.cfg.duration)))
	defer end.Stop()
	wait := time.NewTimer(0)
	defer wait.Stop()
	<-wait.C
	for i := range n {
		due := start.Add(g.offset(i))
		if d := time.Until(due); d > 0 {
			wait.Reset(d)
			select {
			case <-wait.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case jobs <- job{seq: i, due: due}:
		case <-ctx.Done():
			return
		case <-end.C:
			g.unsent.Store(int64(n - i))
			return
		}
	}
}

// offset returns when request i is due after the start: i/rate seconds, exactly.
func (g *generator) offset(i int) time.Duration {
	rate := int64(g.cfg.rate)
	return time.Duration(int64(i)/rate)*time.Second + time.Duration(int64(i)%rate*int64(time.Second)/rate)
}

// send makes one request and counts its outcome, unless ctx ended the run first.
func (g *generator) send(ctx context.Context, j job) {
	rctx, cancel := context.WithTimeout(ctx, g.cfg.timeout)
	defer cancel()
	kind := g.do(rctx, g.urls[j.seq%len(g.urls)])
	if ctx.Err() != nil {
		return // interrupted: this request tells nothing about the target
	}
	g.stats.observe(kind, time.Since(j.due))
}

// do makes one request, reads the whole answer and returns its error kind, or ""
// for a success.
func (g *generator) do(ctx context.Context, url string) string {
	req, err := http.NewRequestWithContext(ctx, g.cfg.method, url, nil)
	if err != nil {
		return ErrKindOther
	}
	for k, vs := range g.cfg.header {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return classify(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return classify(err)
	case resp.StatusCode >= 500:
		return ErrKind5xx
	case resp.StatusCode >= 400:
		return ErrKind4xx
	}
	return ""
}

// classify names the kind of a transport error.
func classify(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return ErrKindConnect
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ErrKindTimeout
	}
	return ErrKindOther
}

// report summarises the run so far.
func (g *generator) report(start time.Time) Report {
	elapsed := min(time.Since(start), g.cfg.duration)
	if g.cfg.count > 0 {
		elapsed = time.Since(start)
	}
	r := g.stats.report(elapsed, float64(g.cfg.rate))
	r.Unsent = g.unsent.Load()
	return r
}
