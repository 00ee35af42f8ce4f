package routerd_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

// backend serves its version on 127.0.0.1 and returns its address.
func backend(t *testing.T, version string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, version)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends at Close
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// client returns a routerd client of dir (it starts the test binary as router).
func client(t *testing.T, dir, listen string, src staticSource) *routerd.Client {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := routerd.NewClient(routerd.ClientOptions{Dir: dir, Settings: routerd.Settings{Listen: listen}, Executable: exe, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// routerPID returns the pid of the router answering in dir, or 0.
func routerPID(t *testing.T, c *routerd.Client) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := c.State(ctx)
	if err != nil {
		return 0
	}
	return v.PID
}

// stopRouterAtEnd stops the router of c when the test ends.
func stopRouterAtEnd(t *testing.T, c *routerd.Client) {
	t.Cleanup(func() {
		if pid := routerPID(t, c); pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
			waitFor(t, "the router to stop", func() bool { return !alive(pid) })
		}
	})
}

// alive reports whether a process exists (and is not a zombie of ours).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	for i := 0; i+2 < len(b); i++ {
		if b[i] == ')' {
			return b[i+2] != 'Z'
		}
	}
	return true
}

// get returns the status and body of one GET.
func get(hc *http.Client, url string) (int, string, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// load sends GETs to url from workers keep-alive clients until stopped, counting
// answers by body and failures (errors and non-200 answers).
type load struct {
	ok     atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	bodies map[string]int
	errs   []string
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startLoad(url string, workers int) *load {
	l := &load{bodies: map[string]int{}, stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				status, body, err := get(hc, url)
				l.mu.Lock()
				if err != nil || status != http.StatusOK {
					l.failed.Add(1)
					l.errs = append(l.errs, fmt.Sprintf("%d %q %v", status, body, err))
				} else {
					l.ok.Add(1)
					l.bodies[body]++
				}
				l.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return l
}

// waitMore waits until n more requests succeeded.
func (l *load) waitMore(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	waitFor(t, fmt.Sprintf("%d more answered requests", n), func() bool { return l.ok.Load() >= target })
}

// end stops the load and fails the test on any failed request.
func (l *load) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if f := l.failed.Load(); f > 0 {
		t.Errorf("%d of %d requests failed, first: %v", f, f+l.ok.Load(), l.errs[:min(len(l.errs), 5)])
	}
}

// upgrade runs `router --dir DIR --listen LISTEN --upgrade` in its own session
// and returns it started.
func upgrade(t *testing.T, dir, listen string) *exec.Cmd {
	t.Helper()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "router", "--dir", dir, "--listen", listen, "--upgrade")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() //nolint:errcheck // reaped; the test follows the router through its socket
	return cmd
}
