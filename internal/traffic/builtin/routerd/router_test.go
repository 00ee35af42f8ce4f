package routerd_test

import (
	"bufio"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

var shop = traffic.ServiceRef{Service: "shop"}

// startShop starts a router in a new directory through a client, with service
// shop on green v1 and blue v2 at the weights w.
func startShop(t *testing.T, w traffic.Weights) (c *routerd.Client, dir, listen string, src staticSource) {
	t.Helper()
	dir, listen = filepath.Join(t.TempDir(), "router"), localtest.FreeAddr(t)
	src = staticSource{
		{Service: "shop", Slot: platform.Green}: {backend(t, "v1")},
		{Service: "shop", Slot: platform.Blue}:  {backend(t, "v2")},
	}
	c = client(t, dir, listen, src)
	if err := c.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopRouterAtEnd(t, c)
	if err := c.Ensure(t.Context(), traffic.Route{Service: shop}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWeights(t.Context(), shop, w, "k"); err != nil {
		t.Fatal(err)
	}
	return c, dir, listen, src
}

// TestRouterSurvivesServerKill: a server (a real process) starts the router and
// is killed with its whole process group; traffic keeps flowing with the weights it
// set, and a new server adopts the router: its next weight change applies and
// reads back.
func TestRouterSurvivesServerKill(t *testing.T) {
	dir, listen := filepath.Join(t.TempDir(), "router"), localtest.FreeAddr(t)
	green, blue := backend(t, "v1"), backend(t, "v2")
	exe, _ := os.Executable()
	srv := exec.Command(exe, "server", dir, listen, green, blue, "100")
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		srv.Process.Kill()
		t.Fatalf("server: %q, %v", line, err)
	}
	src := staticSource{{Service: "shop", Slot: platform.Green}: {green}, {Service: "shop", Slot: platform.Blue}: {blue}}
	c := client(t, dir, listen, src)
	stopRouterAtEnd(t, c)
	l := startLoad("http://"+listen+"/", 4)
	l.waitMore(t, 20)
	syscall.Kill(-srv.Process.Pid, syscall.SIGKILL) // the server and its process group
	srv.Wait()                                      //nolint:errcheck // killed
	l.waitMore(t, 200)
	if err := c.Restore(t.Context()); err != nil { // the restarted server adopts the router
		t.Fatal(err)
	}
	if w, err := c.Weights(t.Context(), shop); err != nil || w != traffic.All(platform.Blue) {
		t.Fatalf("weights after the server was killed: %v, %v; want all blue", w, err)
	}
	if err := c.SetWeights(t.Context(), shop, traffic.All(platform.Green), "k2"); err != nil {
		t.Fatal(err)
	}
	if w, err := c.Weights(t.Context(), shop); err != nil || w != traffic.All(platform.Green) {
		t.Fatalf("weights read back after the adopting server's change: %v, %v; want all green", w, err)
	}
	l.mu.Lock()
	before := l.bodies["v1"]
	l.mu.Unlock()
	l.waitMore(t, 100)
	l.end(t)
	if l.bodies["v1"] <= before {
		t.Fatalf("no request reached green after the adopting server moved the traffic: %v", l.bodies)
	}
}

// TestUpgradeDropsNothing upgrades the router three times under keep-alive load:
// every request is answered, and the state survives each hand-over.
func TestUpgradeDropsNothing(t *testing.T) {
	c, dir, listen, _ := startShop(t, traffic.Weights{Green: 50, Blue: 50})
	l := startLoad("http://"+listen+"/", 8)
	l.waitMore(t, 50)
	for i := range 3 {
		old := routerPID(t, c)
		cmd := upgrade(t, dir, listen)
		waitFor(t, "the new router to answer", func() bool { return routerPID(t, c) == cmd.Process.Pid })
		waitFor(t, "the old router to exit", func() bool { return !alive(old) })
		l.waitMore(t, 50)
		t.Logf("upgrade %d: pid %d -> %d, %d requests so far", i+1, old, cmd.Process.Pid, l.ok.Load())
	}
	l.end(t)
	if w, err := c.Weights(t.Context(), shop); err != nil || w != (traffic.Weights{Green: 50, Blue: 50}) {
		t.Fatalf("weights after upgrades: %v, %v", w, err)
	}
	if l.bodies["v1"] == 0 || l.bodies["v2"] == 0 {
		t.Fatalf("both slots should have answered: %v", l.bodies)
	}
}

// TestCorruptStateRefused: a router does not start on a truncated or damaged
// state file, with a message naming the file; during an upgrade the old process
// keeps serving.
func TestCorruptStateRefused(t *testing.T) {
	c, dir, listen, _ := startShop(t, traffic.All(platform.Blue))
	path := routerd.StatePath(dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid := routerPID(t, c)
	for name, bad := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"damaged":   []byte(strings.Replace(string(good), `"blue": 100`, `"blue": 10`, 1)),
		"garbage":   []byte("\x00\x01not json"),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			exe, _ := os.Executable()
			out, err := exec.Command(exe, "router", "--dir", dir, "--listen", listen, "--upgrade").CombinedOutput()
			if err == nil || !contains(string(out), "corrupt", path) {
				t.Fatalf("upgrade on a %s state: %v\n%s\nwant a refusal naming %s", name, err, out, path)
			}
			if got := routerPID(t, c); got != pid {
				t.Fatalf("router pid %d after the refused upgrade, want the old %d", got, pid)
			}
			if status, body, err := get(http.DefaultClient, "http://"+listen+"/"); err != nil || status != 200 || body != "v2" {
				t.Fatalf("old router after the refused upgrade: %d %q %v", status, body, err)
			}
			err = routerd.Run(t.Context(), routerd.Options{Dir: dir, Settings: routerd.Settings{Listen: localtest.FreeAddr(t)}})
			if !errors.Is(err, builtin.ErrCorruptState) {
				t.Fatalf("fresh start on a %s state: %v, want ErrCorruptState", name, err)
			}
		})
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSecondRouterRefused: a second router on the same directory or the same
// listen address does not start.
func TestSecondRouterRefused(t *testing.T) {
	_, dir, listen, _ := startShop(t, traffic.All(platform.Green))
	for name, opts := range map[string]routerd.Options{
		"same dir":     {Dir: dir, Settings: routerd.Settings{Listen: localtest.FreeAddr(t)}},
		"same address": {Dir: filepath.Join(t.TempDir(), "other"), Settings: routerd.Settings{Listen: listen}},
	} {
		t.Run(name, func(t *testing.T) {
			err := routerd.Run(t.Context(), opts)
			if !errors.Is(err, routerd.ErrRunning) {
				t.Fatalf("second router: %v, want ErrRunning", err)
			}
		})
	}
}

// TestRestartAloneServesLastState stops the router and starts it again on its
// own, without a server: it comes back with the last weights and answers no
// request before it has them (connections are refused until then, never 502).
func TestRestartAloneServesLastState(t *testing.T) {
	c, dir, listen, _ := startShop(t, traffic.All(platform.Blue))
	pid := routerPID(t, c)
	syscall.Kill(pid, syscall.SIGTERM)
	waitFor(t, "the router to stop", func() bool { return !alive(pid) })
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "router", "--dir", dir, "--listen", listen)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() //nolint:errcheck // stopped by stopRouterAtEnd
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	answered := 0
	waitFor(t, "20 answers of the restarted router", func() bool {
		status, body, err := get(hc, "http://"+listen+"/")
		if err != nil {
			if answered > 0 || !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("after %d answers: %v", answered, err)
			}
			return false
		}
		if status != http.StatusOK || body != "v2" {
			t.Fatalf("restarted router answered %d %q; want 200 v2 from the first request", status, body)
		}
		answered++
		return answered == 20
	})
	if w, err := c.Weights(t.Context(), shop); err != nil || w != traffic.All(platform.Blue) {
		t.Fatalf("weights after the restart: %v, %v", w, err)
	}
}

// TestSocketOnlyForTheOwner: the admin socket is 0600 in a 0700 directory.
func TestSocketOnlyForTheOwner(t *testing.T) {
	_, dir, _, _ := startShop(t, traffic.All(platform.Green))
	for path, want := range map[string]os.FileMode{dir: 0o700, routerd.SocketPath(dir): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}
