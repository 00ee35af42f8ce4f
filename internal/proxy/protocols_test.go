package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

func TestWebSocketEcho(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	}
	blue := newBackend(t, platform.Blue, "b0", map[string]http.HandlerFunc{"/ws": echo})
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Blue), nil, []*backend{blue})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	must(t, err)
	defer c.CloseNow()
	for i := 0; i < 20; i++ {
		msg := fmt.Sprintf("hello %d", i)
		must(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
		_, got, err := c.Read(ctx)
		must(t, err)
		if string(got) != "echo:"+msg {
			t.Fatalf("got %q, want %q", got, "echo:"+msg)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	if n := p.Snapshot().Blue.Classes[class1xx]; n != 1 {
		t.Errorf("blue 1xx (upgrades) = %d, want 1", n)
	}
}

// healthBackend starts a gRPC server with the standard health service.
func healthBackend(t *testing.T) (*health.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return hs, ln.Addr().String()
}

func TestGRPCThroughH2C(t *testing.T) {
	hs, baddr := healthBackend(t)
	hs.SetServingStatus("shop", healthpb.HealthCheckResponse_SERVING)
	p := New(Config{Service: "grpc"})
	must(t, p.SetEndpoints(platform.Green, []string{baddr}))
	addr := startProxy(t, p)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err)
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	t.Run("unary", func(t *testing.T) {
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
		must(t, err)
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("status %v", resp.Status)
		}
	})
	t.Run("status in trailers", func(t *testing.T) {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("got %v, want NotFound carried in the grpc-status trailer", err)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
		must(t, err)
		first, err := stream.Recv()
		must(t, err)
		hs.SetServingStatus("shop", healthpb.HealthCheckResponse_NOT_SERVING)
		second, err := stream.Recv()
		must(t, err)
		if first.Status != healthpb.HealthCheckResponse_SERVING || second.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("stream gave %v then %v", first.Status, second.Status)
		}
	})
	if n := p.Snapshot().Green.Success(); n < 2 {
		t.Errorf("green 2xx = %d, want the gRPC calls counted", n)
	}
}

// sseHandler sends one event, waits for release, then sends a second.
func sseHandler(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		fmt.Fprint(w, "data: two\n\n")
	}
}

func TestStreamingArrivesIncrementally(t *testing.T) {
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	clients := map[string]*http.Client{
		"http1": newClient(),
		"h2c":   {Transport: h2c, Timeout: 10 * time.Second},
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/events": sseHandler(release)})
			_, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
			resp, err := client.Get("http://" + addr + "/events")
			must(t, err)
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			must(t, err)
			if line != "data: one\n" {
				t.Fatalf("first line %q", line)
			}
			// The second event is only sent after the first was read through the
			// proxy, so a buffering proxy would have timed out above.
			close(release)
			rest, err := io.ReadAll(br)
			must(t, err)
			if !strings.Contains(string(rest), "data: two") {
				t.Fatalf("rest %q", rest)
			}
		})
	}
}

func TestRequestBodyStreamed(t *testing.T) {
	var got atomic.Int64
	sink := func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		fmt.Fprintf(w, "%d", n)
	}
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/upload": sink})
	p, addr := newTestProxy(t, Config{MirrorMaxBody: 1024}, traffic.All(platform.Green), []*backend{green}, nil)
	const size = 4 << 20
	resp, err := newClient().Post("http://"+addr+"/upload", "application/octet-stream", io.LimitReader(zeroReader{}, size))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 || got.Load() != size {
		t.Fatalf("status %d, backend got %d bytes, want %d", resp.StatusCode, got.Load(), size)
	}
	if in := p.Snapshot().Green.BytesIn; in != 0 && in != size {
		t.Errorf("bytes in %d", in)
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func TestTLSWithALPN(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	ts.Close()
	green := newBackend(t, platform.Green, "g0", nil)
	_, addr := newTestProxy(t, Config{TLS: &tls.Config{Certificates: ts.TLS.Certificates}}, traffic.All(platform.Green), []*backend{green}, nil)
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	tests := []struct {
		name, proto string
		h2          bool
	}{{"h2", "HTTP/2.0", true}, {"http/1.1", "HTTP/1.1", false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: tc.h2}
			if !tc.h2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/")
			must(t, err)
			resp.Body.Close()
			if resp.Proto != tc.proto || resp.Header.Get("X-Slot") != "green" {
				t.Fatalf("proto %s slot %q, want %s from green", resp.Proto, resp.Header.Get("X-Slot"), tc.proto)
			}
			if fp := resp.Header.Get("X-Seen-Forwarded-Proto"); fp != "https" {
				t.Fatalf("X-Forwarded-Proto %q, want https", fp)
			}
		})
	}
	// Plain HTTP/1.1 still works on the same listener.
	resp, err := newClient().Get("http://" + addr + "/")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("plaintext next to TLS: status %d", resp.StatusCode)
	}
}

func TestH2CWeights(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	blue := newBackend(t, platform.Blue, "b0", nil)
	_, addr := newTestProxy(t, Config{}, traffic.Split(platform.Blue, 30), []*backend{green}, []*backend{blue})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	const n = 10000
	counts, failed := load(t, client, "http://"+addr+"/", n, 16, nil)
	if failed != 0 {
		t.Fatalf("%d failed", failed)
	}
	sd := math.Sqrt(n * 0.3 * 0.7)
	if d := math.Abs(float64(counts["blue"]) - n*0.3); d > 3*sd {
		t.Fatalf("blue got %d of %d over h2c, want 3000 ± %.0f", counts["blue"], n, 3*sd)
	}
}

func TestMirror(t *testing.T) {
	var mirrored atomic.Int64
	green := newBackend(t, platform.Green, "g0", nil)
	blueSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mirrored.Add(1)
		w.Header().Set("X-Slot", "blue")
	}))
	defer blueSrv.Close()
	p := New(Config{Service: "web"})
	must(t, p.SetEndpoints(platform.Green, []string{green.addr()}))
	must(t, p.SetEndpoints(platform.Blue, []string{blueSrv.Listener.Addr().String()}))
	must(t, p.SetMirror(Mirror{Slot: platform.Blue, Percent: 100}))
	addr := startProxy(t, p)
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	counts, failed := load(t, newClient(), "http://"+addr+"/", 25, 1, nil)
	c2, f2 := load(t, &http.Client{Transport: h2c}, "http://"+addr+"/", 25, 1, nil)
	if failed+f2 != 0 || counts["green"]+c2["green"] != 50 {
		t.Fatalf("primary answers %v and %v (h2c) failed %d, want all 50 from green", counts, c2, failed+f2)
	}
	// The proxy counts a mirrored request once its copy's answer is back, which can
	// be a moment after the backend counted it: wait for both.
	deadline := time.Now().Add(5 * time.Second)
	for (mirrored.Load() < 50 || p.Snapshot().Blue.Mirrored < 50) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if mirrored.Load() != 50 {
		t.Fatalf("blue saw %d mirrored requests, want 50", mirrored.Load())
	}
	if s := p.Snapshot(); s.Blue.Mirrored != 50 || s.Blue.Requests() != 0 {
		t.Fatalf("blue mirrored %d requests %d, want 50 and 0", s.Blue.Mirrored, s.Blue.Requests())
	}
}

func TestMirrorNeverBlocksPrimary(t *testing.T) {
	release := make(chan struct{})
	green := newBackend(t, platform.Green, "g0", nil)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer stuck.Close()
	defer close(release)
	p := New(Config{Service: "web", MirrorQueue: 2, MirrorWorkers: 1})
	must(t, p.SetEndpoints(platform.Green, []string{green.addr()}))
	must(t, p.SetEndpoints(platform.Blue, []string{stuck.Listener.Addr().String()}))
	must(t, p.SetMirror(Mirror{Slot: platform.Blue, Percent: 100}))
	addr := startProxy(t, p)
	counts, failed := load(t, newClient(), "http://"+addr+"/", 100, 2, nil)
	if failed != 0 || counts["green"] != 100 {
		t.Fatalf("primary answers %v failed %d with a stuck mirror", counts, failed)
	}
	if d := p.Snapshot().Blue.MirrorDropped; d < 90 {
		t.Fatalf("mirror dropped %d copies, want the queue bound (2) to drop most of 100", d)
	}
}

func TestTCPModeSplit(t *testing.T) {
	p := New(Config{Service: "db", Mode: ModeTCP})
	must(t, p.SetEndpoints(platform.Green, []string{lineEcho(t, "green")}))
	must(t, p.SetEndpoints(platform.Blue, []string{lineEcho(t, "blue")}))
	must(t, p.SetWeights(traffic.Split(platform.Blue, 20)))
	addr := startProxy(t, p)
	const n, workers = 2000, 8
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				fmt.Fprintf(c, "ping\n")
				got, _ := io.ReadAll(c)
				c.Close()
				mu.Lock()
				counts[strings.SplitN(string(got), ":", 2)[0]]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if counts["blue"]+counts["green"] != n {
		t.Fatalf("answers %v, want %d", counts, n)
	}
	sd := math.Sqrt(n * 0.2 * 0.8)
	if d := math.Abs(float64(counts["blue"]) - n*0.2); d > 3*sd {
		t.Fatalf("blue got %d of %d connections, want 400 ± %.0f", counts["blue"], n, 3*sd)
	}
	if s := p.Snapshot(); s.Blue.Connections != uint64(counts["blue"]) || s.Green.BytesOut == 0 {
		t.Fatalf("metrics: blue connections %d (want %d), green bytes out %d", s.Blue.Connections, counts["blue"], s.Green.BytesOut)
	}
}
