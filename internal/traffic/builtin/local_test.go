package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/local"
	"github.com/sluicehq/sluice/internal/sampleapp"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
)

// localSetup is a local platform whose endpoints a builtin router follows.
type localSetup struct {
	p   *local.Platform
	r   *builtin.Router
	exe string
}

func newLocalSetup(t *testing.T) *localSetup {
	t.Helper()
	ls := &localSetup{exe: testExe}
	var err error
	ls.r = newRouter(t, builtin.Options{
		Listen: "127.0.0.1:0",
		Source: builtin.SourceFunc(func(ref platform.SlotRef) []string { return ls.p.Endpoints(ref) }),
		Resync: -1, // prove the notifications alone keep the proxy current
	})
	ls.p, err = local.New(local.Options{
		StateDir: t.TempDir(), OnEndpoints: ls.r.EndpointsChanged,
		StopGrace: 2 * time.Second, HealthInterval: 100 * time.Millisecond,
		Commands: []local.Command{{Name: "app", Executable: testExe, Args: []string{"--port", "${PORT}", "--version", "${VERSION}"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ls.p.Close(ctx); err != nil {
			t.Errorf("closing the platform: %v", err)
		}
	})
	return ls
}

func (ls *localSetup) deploy(t *testing.T, slot platform.Slot, version string, n int) {
	t.Helper()
	ref := platform.SlotRef{Service: "shop", Slot: slot}
	d := platform.Deployment{
		Ref: ref, Artifact: "app:" + version, Instances: n,
		Env: map[string]string{appEnv: "1"}, Health: platform.HealthCheck{Path: "/healthz", Status: 200},
		Key: fmt.Sprintf("deploy-%s-%s-%d", slot, version, n),
	}
	if err := ls.p.Deploy(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	ls.waitProxy(t, slot, n)
}

func (ls *localSetup) scale(t *testing.T, slot platform.Slot, n int) {
	t.Helper()
	ref := platform.SlotRef{Service: "shop", Slot: slot}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := ls.p.Scale(ctx, ref, n, fmt.Sprintf("scale-%s-%d-%d", slot, n, time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
	ls.waitProxy(t, slot, n)
}

// waitProxy waits until the proxy has exactly the platform's n ready endpoints of slot.
func (ls *localSetup) waitProxy(t *testing.T, slot platform.Slot, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		want := ls.p.Endpoints(platform.SlotRef{Service: "shop", Slot: slot})
		got := proxyEndpoints(t, ls.r, slot)
		if ls.r.Addr("shop") == "" { // not ensured yet: only the platform counts
			got = want
		}
		if len(want) == n && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy %s endpoints %v, platform %v, want %d", slot, got, want, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func proxyEndpoints(t *testing.T, r *builtin.Router, slot platform.Slot) []string {
	t.Helper()
	ins, err := r.Instances("shop")
	if err != nil {
		return nil
	}
	var out []string
	for _, in := range ins {
		if in.Slot == slot {
			out = append(out, in.Addr)
		}
	}
	return out
}

// load sends requests through the proxy until stopped, counting failures and the
// versions that answered.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	versions   map[string]int
	lastErr    atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(url string, workers int) *load {
	l := &load{versions: map[string]int{}, stop: make(chan struct{})}
	c := &http.Client{Timeout: 5 * time.Second}
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.one(c, url)
			}
		})
	}
	return l
}

func (l *load) one(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		l.failed.Add(1)
		l.lastErr.Store(err.Error())
		return
	}
	defer resp.Body.Close()
	var r sampleapp.Response
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil {
		l.failed.Add(1)
		l.lastErr.Store(fmt.Sprintf("%s: %s", resp.Status, b))
		return
	}
	l.ok.Add(1)
	l.mu.Lock()
	l.versions[r.Version]++
	l.mu.Unlock()
}

func (l *load) end() { close(l.stop); l.wg.Wait() }

func (l *load) seen(v string) int { l.mu.Lock(); defer l.mu.Unlock(); return l.versions[v] }

// TestFollowsLocalPlatform moves instances in and out under load: the proxy follows
// the platform's ready endpoints through its notifications and no request fails.
func TestFollowsLocalPlatform(t *testing.T) {
	ls := newLocalSetup(t)
	svc := traffic.ServiceRef{Service: "shop"}
	ls.deploy(t, platform.Green, "v1", 2)
	if err := ls.r.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	ls.waitProxy(t, platform.Green, 2)
	l := startLoad("http://"+ls.r.Addr("shop")+"/", 4)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.end()
		}
	}()

	ls.deploy(t, platform.Blue, "v2", 1)
	if err := ls.r.SetWeights(t.Context(), svc, traffic.Split(platform.Blue, 50), "w50"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 answers through the proxy", func() bool { return l.seen("v2") > 20 })
	ls.scale(t, platform.Blue, 3)
	ls.scale(t, platform.Green, 1)
	if err := ls.r.SetWeights(t.Context(), svc, traffic.All(platform.Green), "w0"); err != nil {
		t.Fatal(err)
	}
	ls.scale(t, platform.Blue, 0)
	ls.scale(t, platform.Green, 3)
	before := l.ok.Load()
	waitFor(t, "requests after the last change", func() bool { return l.ok.Load() > before+100 })
	l.end()
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed while instances came and went; last: %v", n, n+l.ok.Load(), l.lastErr.Load())
	}
	t.Logf("%d requests, versions %v", l.ok.Load(), l.versions)
}

// TestKilledInstanceIsReplaced kills an instance with SIGKILL under load: the proxy
// takes it out, the platform restarts it, and the proxy follows its new port.
func TestKilledInstanceIsReplaced(t *testing.T) {
	ls := newLocalSetup(t)
	svc := traffic.ServiceRef{Service: "shop"}
	ls.deploy(t, platform.Green, "v1", 2)
	if err := ls.r.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	ls.waitProxy(t, platform.Green, 2)
	l := startLoad("http://"+ls.r.Addr("shop")+"/", 4)
	defer l.end()
	ref := platform.SlotRef{Service: "shop", Slot: platform.Green}
	victim := ls.p.Instances(ref)[0]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the killed instance replaced", func() bool {
		ins := ls.p.Instances(ref)
		return len(ins) == 2 && ins[0].Ready && ins[0].PID != victim.PID
	})
	ls.waitProxy(t, platform.Green, 2)
	before := l.ok.Load()
	waitFor(t, "requests after the replacement", func() bool { return l.ok.Load() > before+100 })
	total := l.ok.Load() + l.failed.Load()
	if n := l.failed.Load(); n*100 > total {
		t.Fatalf("%d of %d requests failed around a killed instance; last: %v", n, total, l.lastErr.Load())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
