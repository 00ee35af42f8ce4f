package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// These tests speak HTTP/1.1 over raw connections so that framing, keep-alive and
// pipelining are exactly what they say. On Linux they run on the event loop
// (loopServing checks that the connection really is on it); elsewhere on the
// fasthttp path, which must behave the same.

// rawConn is a client connection with a reader for responses.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// roundTrip writes raw and reads one response (to a request of method).
func (c *rawConn) roundTrip(t *testing.T, raw, method string) (*http.Response, string) {
	t.Helper()
	_, err := io.WriteString(c, raw)
	must(t, err)
	return c.read(t, method)
}

func (c *rawConn) read(t *testing.T, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.r, &http.Request{Method: method})
	must(t, err)
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	resp.Body.Close()
	return resp, string(body)
}

// loopServing asserts that the event loop holds n client connections (Linux).
func loopServing(t *testing.T, p *Proxy, n int64) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	if got := p.loopConns.Load(); got != n {
		t.Fatalf("event loop serves %d client connections, want %d", got, n)
	}
}

// nothingInFlight waits until the proxy counts no request in flight: the loop
// ends an exchange just after its last byte went out.
func nothingInFlight(t *testing.T, p *Proxy) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := p.Snapshot()
		if s.Green.InFlight == 0 && s.Blue.InFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in flight after every answer: green %d, blue %d", s.Green.InFlight, s.Blue.InFlight)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// echoBody answers with the request body, read whole first (Go's HTTP/1 server
// does not read a body on after the answer has started).
func echoBody(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Write(b)
}

func TestLoopKeepAliveAndPipelining(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	c := dialRaw(t, addr)
	for i := 0; i < 3; i++ {
		resp, body := c.roundTrip(t, "GET /a HTTP/1.1\r\nHost: web\r\n\r\n", "GET")
		if resp.StatusCode != 200 || body != "green/g0" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	loopServing(t, p, 1)
	// Three requests in one write: three answers, in order.
	_, err := io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: web\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: web\r\n\r\nPOST /3 HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\n\r\nhello")
	must(t, err)
	for i, m := range []string{"GET", "HEAD", "POST"} {
		resp, body := c.read(t, m)
		want := "green/g0"
		if m == "HEAD" {
			want = ""
		}
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("pipelined %d (%s): %d %q", i, m, resp.StatusCode, body)
		}
	}
	if s := p.Snapshot().Green; s.Requests() != 6 {
		t.Fatalf("green counted %d requests, want 6", s.Requests())
	}
	nothingInFlight(t, p)
}

func TestLoopHopByHopAndForwarded(t *testing.T) {
	var seen http.Header
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/h": func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Connection", "X-Answer-Hop")
		w.Header().Set("X-Answer-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "yes")
	}})
	_, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	c := dialRaw(t, addr)
	resp, _ := c.roundTrip(t, "GET /h HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"+
		"Proxy-Authorization: Basic x\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Other: kept\r\n\r\n", "GET")
	for _, h := range []string{"X-Hop", "Proxy-Authorization", "Connection"} {
		if v := seen.Get(h); v != "" {
			t.Errorf("instance saw %s: %q", h, v)
		}
	}
	if got := seen.Get("X-Forwarded-For"); got != "10.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", got)
	}
	if seen.Get("X-Forwarded-Proto") != "http" || seen.Get("X-Forwarded-Host") != "shop.example" || seen.Get("X-Other") != "kept" {
		t.Errorf("instance saw %v", seen)
	}
	if resp.Header.Get("X-Answer-Hop") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Kept") != "yes" {
		t.Errorf("client got %v", resp.Header)
	}
}

func TestLoopResponseFraming(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{
		"/chunked": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < 5; i++ {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "5")
		},
		"/empty": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		"/big": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3000000")
			w.Write(bytes.Repeat([]byte("b"), 3000000))
		},
	})
	_, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	c := dialRaw(t, addr)
	resp, body := c.roundTrip(t, "GET /chunked HTTP/1.1\r\nHost: web\r\n\r\n", "GET")
	if body != "part0;part1;part2;part3;part4;" || resp.Trailer.Get("X-Sum") != "5" {
		t.Fatalf("chunked: %q, trailer %v", body, resp.Trailer)
	}
	if resp, _ := c.roundTrip(t, "GET /empty HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); resp.StatusCode != 204 {
		t.Fatalf("empty: %d", resp.StatusCode)
	}
	if _, body := c.roundTrip(t, "GET /big HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); len(body) != 3000000 {
		t.Fatalf("big: %d bytes", len(body))
	}
	if _, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); body != "green/g0" {
		t.Fatalf("after the others on the same connection: %q", body)
	}
}

// rawBackend answers every request on its connections with fn's bytes and then
// does what fn says (close or not).
func rawBackend(t *testing.T, fn func(req string) (answer string, closeAfter bool)) string {
	return tcpServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(r)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			answer, closeAfter := fn(req.URL.Path)
			io.WriteString(c, answer)
			if closeAfter {
				return
			}
		}
	})
}

func TestLoopUpstreamMisbehaves(t *testing.T) {
	addr := rawBackend(t, func(path string) (string, bool) {
		switch path {
		case "/until-close":
			return "HTTP/1.1 200 OK\r\n\r\nall of it", true
		case "/garbage":
			return "this is not http\r\n\r\n", true
		case "/cut":
			return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	})
	p := New(Config{Service: "web", FailureThreshold: -1})
	must(t, p.SetEndpoints(platform.Green, []string{addr}))
	proxyAddr := startProxy(t, p)

	c := dialRaw(t, proxyAddr)
	resp, body := c.roundTrip(t, "GET /until-close HTTP/1.1\r\nHost: web\r\n\r\n", "GET")
	if body != "all of it" || !resp.Close {
		t.Fatalf("until-close: %q, close %v", body, resp.Close)
	}
	c = dialRaw(t, proxyAddr)
	if resp, _ := c.roundTrip(t, "GET /garbage HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("garbage: %d", resp.StatusCode)
	}
	// The client connection survives a 502 and serves the next request.
	if _, body := c.roundTrip(t, "GET /fine HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); body != "ok" {
		t.Fatalf("after 502: %q", body)
	}
	// A response cut short ends the client connection instead of passing a lie on.
	c = dialRaw(t, proxyAddr)
	io.WriteString(c, "GET /cut HTTP/1.1\r\nHost: web\r\n\r\n")
	resp, err := http.ReadResponse(c.r, nil)
	must(t, err)
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("cut response: the client read it whole")
	}
	if errs := p.Snapshot().Green.ProxyErrors(); errs != 1 {
		t.Errorf("proxy errors %d, want 1 (the garbage answer)", errs)
	}
}

// Both paths, the event loop and the general (fasthttp) one, send an idempotent
// request without a body again when the instance had closed the kept-alive
// connection it went on.
func TestRetriesAKeptAliveConnectionTheInstanceClosed(t *testing.T) {
	for _, path := range []struct {
		name    string
		disable bool
	}{{"loop", false}, {"general", true}} {
		t.Run(path.name, func(t *testing.T) {
			var n atomic.Int32
			// Every answer says keep-alive but the instance closes anyway, as an
			// instance whose idle timeout fires between two requests does.
			addr := rawBackend(t, func(string) (string, bool) {
				n.Add(1)
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true
			})
			p := New(Config{Service: "web", DisableEventLoop: path.disable, FailureThreshold: -1})
			must(t, p.SetEndpoints(platform.Green, []string{addr}))
			c := dialRaw(t, startProxy(t, p))
			for i := 0; i < 5; i++ {
				resp, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET")
				if resp.StatusCode != 200 || body != "ok" {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
				}
			}
			if got := n.Load(); got != 5 {
				t.Fatalf("instance answered %d requests, want 5", got)
			}
		})
	}
}

func TestLoopResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/slow": func(w http.ResponseWriter, r *http.Request) {
		<-release
	}})
	defer close(release)
	p, addr := newTestProxy(t, Config{ResponseHeaderTimeout: 200 * time.Millisecond}, traffic.All(platform.Green), []*backend{green}, nil)
	c := dialRaw(t, addr)
	if resp, _ := c.roundTrip(t, "GET /slow HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("slow: %d", resp.StatusCode)
	}
	if _, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); body != "green/g0" {
		t.Fatalf("after 504: %q", body)
	}
	nothingInFlight(t, p)
}

func TestLoopLargeBodiesBothWays(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/echo": echoBody})
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	c := dialRaw(t, addr)
	const size = 8 << 20
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	go func() {
		fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: web\r\nContent-Length: %d\r\n\r\n", size)
		c.Write(payload)
	}()
	resp, body := c.read(t, "POST")
	if resp.StatusCode != 200 || body != string(payload) {
		t.Fatalf("echo: %d, %d bytes back, equal %v", resp.StatusCode, len(body), body == string(payload))
	}
	loopServing(t, p, 1)
	if in := p.Snapshot().Green.BytesIn; in != size {
		t.Errorf("bytes in %d, want %d", in, size)
	}
}

func TestLoopHandsOffWhatItDoesNotTake(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/echo": echoBody})
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	cases := []struct{ name, req, want string }{
		{"chunked request body", "POST /echo HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"expect continue", "POST /echo HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", "hi"},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: web\r\n\r\n", "green/g0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			_, err := io.WriteString(c, tc.req)
			must(t, err)
			var resp *http.Response
			for {
				resp, err = http.ReadResponse(c.r, nil)
				must(t, err)
				if resp.StatusCode != http.StatusContinue {
					break
				}
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != tc.want {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			loopServing(t, p, 0)
		})
	}
}

func TestLoopDrainClosesIdleConnections(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	p := New(Config{Service: "web"})
	must(t, p.SetEndpoints(platform.Green, []string{green.addr()}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	served := make(chan error, 1)
	go func() { served <- p.Serve(context.Background(), ln) }()
	c := dialRaw(t, ln.Addr().String())
	if _, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); body != "green/g0" {
		t.Fatalf("before drain: %q", body)
	}
	loopServing(t, p, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The idle keep-alive connection is closed by the drain, so Drain returns
	// long before its deadline and the client sees EOF.
	if err := p.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection after drain: %v, want EOF", err)
	}
	if err := <-served; err != ErrClosed {
		t.Fatalf("serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("the listener still accepts after drain")
	}
}

func TestLoopUpstreamPoolStaysSmall(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := New(Config{Service: "web"})
	must(t, p.SetEndpoints(platform.Green, []string{srv.Listener.Addr().String()}))
	c := dialRaw(t, startProxy(t, p))
	for i := 0; i < 50; i++ {
		if _, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET"); body != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("50 sequential requests opened %d upstream connections, want 1 (keep-alive)", n)
	}
}

func TestChunkScannerBytewise(t *testing.T) {
	body := "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n"
	for _, step := range []int{1, 2, 3, 7, len(body)} {
		var c chunks
		total, done := 0, false
		for i := 0; i < len(body) && !done; i += step {
			end := min(i+step, len(body))
			n, d, err := c.scan([]byte(body[i:end]))
			if err != nil {
				t.Fatalf("step %d at %d: %v", step, i, err)
			}
			total, done = total+n, d
		}
		if !done || total != len(body) {
			t.Fatalf("step %d: done %v after %d of %d bytes", step, done, total, len(body))
		}
	}
	for _, bad := range []string{"x\r\n", "4\r\nabcdXY", "\r\n"} {
		var c chunks
		if _, _, err := c.scan([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestHeadParse(t *testing.T) {
	var h head
	raw := "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close, X-A\r\nX-A: 1\r\n\r\n"
	if end := headEnd([]byte(raw + "abc")); end != len(raw) {
		t.Fatalf("headEnd %d, want %d", end, len(raw))
	}
	if !h.parse([]byte(raw)) || h.contentLength != 3 || !h.connClose || string(h.host.of(h.buf)) != "a" {
		t.Fatalf("parsed %+v", h)
	}
	out := string(h.appendRequest(nil, []byte("1.2.3.4")))
	if strings.Contains(out, "X-A") || strings.Contains(out, "Connection") || !strings.Contains(out, "X-Forwarded-For: 1.2.3.4\r\n") {
		t.Fatalf("request out %q", out)
	}
	for _, bad := range []string{
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nno colon\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
		"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		if h.parse([]byte(bad)) {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestLoopHonoursMaxConnsPerInstance(t *testing.T) {
	release := make(chan struct{})
	var open atomic.Int32
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/hold": func(w http.ResponseWriter, r *http.Request) {
		open.Add(1)
		<-release
		io.WriteString(w, "held")
	}})
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	t.Cleanup(letGo)                 // before the backend's Close, which waits for its handlers
	cap := 2 * runtime.GOMAXPROCS(0) // each event loop may hold two
	p, addr := newTestProxy(t, Config{MaxConnsPerInstance: cap, DialTimeout: 30 * time.Second}, traffic.All(platform.Green), []*backend{green}, nil)
	n := 2 * cap
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		c := dialRaw(t, addr)
		go func() {
			if _, err := io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: web\r\n\r\n"); err != nil {
				results <- err.Error()
				return
			}
			resp, err := http.ReadResponse(c.r, nil)
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			results <- string(b)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for open.Load() < int32(cap) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// The held requests have every connection the instance may have; the others
	// wait for one instead of opening more.
	time.Sleep(200 * time.Millisecond)
	if got := open.Load(); runtime.GOOS == "linux" && got > int32(cap) {
		t.Fatalf("%d requests reached the instance at once, MaxConnsPerInstance is %d", got, cap)
	}
	letGo()
	for i := 0; i < n; i++ {
		if got := <-results; got != "held" {
			t.Fatalf("request %d: %q", i, got)
		}
	}
	nothingInFlight(t, p)
}

func TestLoopClientThatShutsItsSide(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/echo": echoBody})
	_, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	// The whole request, a body larger than the loop's buffer included, is in the
	// socket before the proxy reads any of it, and then the client shuts its side.
	c := dialRaw(t, addr)
	body := strings.Repeat("z", 200<<10)
	go func() {
		fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: web\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		c.Conn.(*net.TCPConn).CloseWrite()
	}()
	resp, got := c.read(t, "POST")
	if resp.StatusCode != 200 || got != body {
		t.Fatalf("%d, %d bytes back", resp.StatusCode, len(got))
	}
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("after the answer: %v, want EOF", err)
	}
}

func TestLoopBodyAlreadyInTheSocket(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/echo": echoBody})
	p := New(Config{Service: "web"})
	must(t, p.SetEndpoints(platform.Green, []string{green.addr()}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	// The request, with a body several times the loop's buffer, is written whole
	// before the proxy serves the listener, so it all waits in the socket and no
	// further data arrives to signal the loop again.
	c := dialRaw(t, ln.Addr().String())
	body := strings.Repeat("q", 100<<10)
	_, err = fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: web\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); p.Close(); <-done })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	resp, got := c.read(t, "POST")
	if resp.StatusCode != 200 || got != body {
		t.Fatalf("%d, %d bytes back", resp.StatusCode, len(got))
	}
}

func TestLoopHeadTooLarge(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	_, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	c := dialRaw(t, addr)
	go io.WriteString(c, "GET / HTTP/1.1\r\nHost: web\r\nX-Big: "+strings.Repeat("b", 64<<10)+"\r\n\r\n")
	resp, err := http.ReadResponse(c.r, nil)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !resp.Close {
		t.Fatalf("%d, close %v", resp.StatusCode, resp.Close)
	}
}

func TestLoopRefusesSmuggling(t *testing.T) {
	var seen atomic.Int32
	addr := rawBackend(t, func(path string) (string, bool) {
		seen.Add(1)
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	})
	p := New(Config{Service: "web"})
	must(t, p.SetEndpoints(platform.Green, []string{addr}))
	c := dialRaw(t, startProxy(t, p))
	// A space before the colon: a lenient instance would read "GET /x..." as the
	// body of the first request, the proxy as a second request.
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: web\r\nContent-Length : 27\r\n\r\nGET /x HTTP/1.1\r\nHost: web\r\n\r\n")
	resp, err := http.ReadResponse(c.r, nil)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if n := seen.Load(); n != 0 {
		t.Fatalf("the instance saw %d requests", n)
	}
}
