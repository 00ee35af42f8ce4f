package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// backend is a real HTTP server that answers with its slot and instance name.
type backend struct {
	slot platform.Slot
	name string
	srv  *httptest.Server
}

// addr returns the backend's host:port.
func (b *backend) addr() string { return b.srv.Listener.Addr().String() }

// newBackend starts a backend; extra handles paths other than the default echo.
func newBackend(t *testing.T, slot platform.Slot, name string, extra map[string]http.HandlerFunc) *backend {
	t.Helper()
	mux := http.NewServeMux()
	for path, h := range extra {
		mux.HandleFunc(path, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Slot", string(slot))
		w.Header().Set("X-Instance", name)
		w.Header().Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Seen-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-Forwarded-Host", r.Header.Get("X-Forwarded-Host"))
		w.Header().Set("X-Seen-Proxy-Authorization", r.Header.Get("Proxy-Authorization"))
		w.Header().Set("X-Seen-Custom-Hop", r.Header.Get("X-Custom-Hop"))
		fmt.Fprintf(w, "%s/%s", slot, name)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &backend{slot: slot, name: name, srv: srv}
}

// startProxy serves p on a fresh loopback listener and returns its address.
func startProxy(t *testing.T, p *Proxy) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		p.Close()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// newTestProxy builds a proxy over one backend per slot (or as many as given).
func newTestProxy(t *testing.T, cfg Config, w traffic.Weights, green, blue []*backend) (*Proxy, string) {
	t.Helper()
	if cfg.Service == "" {
		cfg.Service = "web"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := New(cfg)
	must(t, p.SetEndpoints(platform.Green, addrs(green)))
	must(t, p.SetEndpoints(platform.Blue, addrs(blue)))
	must(t, p.SetWeights(w))
	return p, startProxy(t, p)
}

func addrs(bs []*backend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.addr())
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newClient returns a keep-alive HTTP/1.1 client for tests.
func newClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: false},
	}
}

// load sends n GET requests from c concurrent workers and returns the count of
// answers per X-Slot header and the failed requests (errors or non-2xx).
func load(t *testing.T, client *http.Client, url string, n, c int, hdr http.Header) (map[string]int, int) {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	failed := 0
	var wg sync.WaitGroup
	per := n / c
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			bad := 0
			for i := 0; i < per; i++ {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				for k, v := range hdr {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					bad++
					continue
				}
				local[resp.Header.Get("X-Slot")]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts, failed
}

// serve runs one GET against an http.Handler.
func serve(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// loadFast is load for plain HTTP/1.1 with a fasthttp client, which costs far
// less CPU under the race detector than net/http's client.
func loadFast(t *testing.T, addr, path string, n, c int) (map[string]int, int) {
	t.Helper()
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: c}
	var mu sync.Mutex
	counts := map[string]int{}
	failed := 0
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + path)
			local := map[string]int{}
			bad := 0
			for i := 0; i < n/c; i++ {
				if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil || resp.StatusCode()/100 != 2 {
					bad++
					continue
				}
				local[string(resp.Header.Peek("X-Slot"))]++
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range local {
				counts[k] += v
			}
			failed += bad
		}()
	}
	wg.Wait()
	return counts, failed
}

// tcpServer serves each connection of a fresh loopback listener with handle (and
// closes it after) until the test ends; it returns the address.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
