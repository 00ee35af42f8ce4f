package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// newStdServer builds the net/http server that serves HTTP/2 (h2c and TLS) and
// gRPC, and its two reverse proxies: to HTTP/1.1 instances and to h2c instances.
func (p *Proxy) newStdServer() (*http.Server, http.Handler, http.Handler) {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           p,
		Protocols:         &protos,
		TLSConfig:         &tls.Config{NextProtos: []string{"h2", "http/1.1"}},
		ReadHeaderTimeout: sniffTimeout,
		IdleTimeout:       p.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(p.cfg.Logger.Handler(), slog.LevelDebug),
	}
	dialer := &net.Dialer{Timeout: p.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	h1 := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       p.cfg.IdleTimeout,
		ResponseHeaderTimeout: p.cfg.ResponseHeaderTimeout,
	}
	var h2protos http.Protocols
	h2protos.SetUnencryptedHTTP2(true)
	h2 := &http.Transport{
		DialContext:           dialer.DialContext,
		Protocols:             &h2protos,
		IdleConnTimeout:       p.cfg.IdleTimeout,
		ResponseHeaderTimeout: p.cfg.ResponseHeaderTimeout,
	}
	return srv, p.newReverseProxy(h1), p.newReverseProxy(h2)
}

// stdState carries one request's routing through httputil.ReverseProxy.
type stdState struct {
	t   *table
	in  *instance
	err error
}

type stdStateKey struct{}

// newReverseProxy returns a ReverseProxy that sends each request to the instance
// chosen in ServeHTTP, retrying once elsewhere when the instance cannot be reached.
func (p *Proxy) newReverseProxy(rt http.RoundTripper) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			st := pr.In.Context().Value(stdStateKey{}).(*stdState)
			pr.SetURL(&url.URL{Scheme: "http", Host: st.in.addr})
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:      &retryTransport{p: p, base: rt},
		FlushInterval:  -1,
		ModifyResponse: grpcTrailersOnly,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			st := r.Context().Value(stdStateKey{}).(*stdState)
			st.err = err
			status := http.StatusBadGateway
			if errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			w.WriteHeader(status)
		},
	}
}

// grpcStatusHeaders are the fields a gRPC "trailers-only" response carries in its
// only HEADERS frame.
var grpcStatusHeaders = []string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin"}

// grpcTrailersOnly moves the status of a gRPC trailers-only response into
// trailers. The proxy may flush the headers before it knows the body is empty, and
// a client reads grpc-status only from a HEADERS frame that ends the stream, so
// the status must travel as a real trailer.
func grpcTrailersOnly(res *http.Response) error {
	if res.Header.Get("Grpc-Status") == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/grpc") {
		return nil
	}
	if res.Trailer == nil {
		res.Trailer = http.Header{}
	}
	for _, k := range grpcStatusHeaders {
		if v, ok := res.Header[k]; ok {
			res.Trailer[k] = v
			delete(res.Header, k)
		}
	}
	return nil
}

// retryTransport records which instance answered and retries a request that could
// not reach its instance on another instance of the same slot.
type retryTransport struct {
	p    *Proxy
	base http.RoundTripper
}

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := req.Context().Value(stdStateKey{}).(*stdState)
	resp, err := rt.base.RoundTrip(req)
	var op *net.OpError
	if err == nil || !errors.As(err, &op) || op.Op != "dial" {
		return resp, err
	}
	rt.p.connFailed(st.in, err)
	alt := st.t.pools[slotIndex(st.in.slot)].pick(st.in)
	if alt == nil || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		return resp, err
	}
	st.in = alt
	r2 := req.Clone(req.Context())
	r2.URL.Host = alt.addr
	if req.GetBody != nil {
		if r2.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return rt.base.RoundTrip(r2)
}

// stdView reads routing inputs from a net/http request.
type stdView struct{ r *http.Request }

func (v stdView) header(name string) string { return v.r.Header.Get(name) }
func (v stdView) cookie(name string) string {
	c, err := v.r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// ServeHTTP proxies a request that arrived over HTTP/2 (or TLS HTTP/1.1 handed to
// net/http); gRPC and, with UpstreamHTTP2, every request goes to instances over h2c.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v := p.vhosts.Load(); v != nil {
		q := v.pick(r.Host)
		if q == nil {
			http.Error(w, fmt.Sprintf("no service for host %q", r.Host), http.StatusNotFound)
			return
		}
		q.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	t := p.table.Load()
	d := p.route(t, stdView{r})
	in, slot, fellBack := t.pick(d.slot, nil)
	if fellBack {
		p.metrics[slotIndex(d.slot)].fallbacks.Add(1)
	}
	m := &p.metrics[slotIndex(slot)]
	if in == nil {
		m.classes[classError].Add(1)
		m.observeLatency(time.Since(start))
		http.Error(w, http.StatusText(http.StatusBadGateway), http.StatusBadGateway)
		return
	}
	m.inflight.Add(1)
	defer m.inflight.Add(-1)
	if r.ContentLength > 0 {
		m.bytesIn.Add(uint64(r.ContentLength))
	}
	if d.setSticky || (fellBack && t.sticky != "") {
		w.Header().Add("Set-Cookie", stickyCookie(t, slot))
	}
	if t.mirror.Percent > 0 {
		p.maybeMirrorStd(t, r, slot)
	}
	st := &stdState{t: t, in: in}
	sw := &statusWriter{ResponseWriter: w, start: start}
	rp := p.h1rp
	if p.cfg.UpstreamHTTP2 || strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		rp = p.h2rp
	}
	rp.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), stdStateKey{}, st)))
	m.bytesOut.Add(uint64(sw.bytes))
	if st.err != nil {
		m.classes[classError].Add(1)
		m.observeLatency(sw.latency())
		return
	}
	p.responded(st.in, sw.status)
	m.observe(sw.status, sw.latency())
}

// statusWriter records the status, the time of the response headers and the body
// bytes written; Unwrap keeps flushing and trailers working.
type statusWriter struct {
	http.ResponseWriter
	start   time.Time
	status  int
	headers time.Duration
	bytes   int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 || (w.status < 200 && code >= 200) {
		w.status = code
		w.headers = time.Since(w.start)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap returns the wrapped writer for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// latency returns the time to response headers, or until now without them.
func (w *statusWriter) latency() time.Duration {
	if w.status == 0 {
		return time.Since(w.start)
	}
	return w.headers
}
