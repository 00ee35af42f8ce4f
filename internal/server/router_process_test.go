package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

// runChildRouter is the test binary as `sluice router`.
func runChildRouter(args []string) int {
	o, err := routerd.ParseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := routerd.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// routerDocs are an environment whose builtin router runs as its own process and
// two workflows: a release of v1 at 100%, and v2 on the other slot at 30%.
func routerDocs(listen string) string {
	return localProbeEnvironment("front", probeExe, listen) + fmt.Sprintf(`---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: release}
spec:
  environment: front
  service: {name: shop, port: 8080, artifact: "probe:v1", health: {path: /healthz}, env: {%[1]s: "1", GORACE: atexit_sleep_ms=0}}
  phases:
    - name: release
      steps:
        - service: {}
        - deploy: {instances: 1}
        - traffic: 100%%
        - promote: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shift}
spec:
  environment: front
  service: {name: shop, port: 8080, artifact: "probe:v2", health: {path: /healthz}, env: {%[1]s: "1", GORACE: atexit_sleep_ms=0}}
  phases:
    - name: shift
      steps:
        - deploy: {instances: 1}
        - traffic: 30%%
`, probeEnv)
}

// TestRouterProcessOutlivesServer: a real server starts the environment's router
// as its own process; the server is killed with SIGKILL and users are still
// served with the same weights; the restarted server adopts the router, and its
// next weight change applies and reads back.
func TestRouterProcessOutlivesServer(t *testing.T) {
	base := rootBaseDir(t, "sluice-router-*")
	dataDir, listen := filepath.Join(base, "data"), localtest.FreeAddr(t)
	rc, err := routerd.NewClient(routerd.ClientOptions{Dir: envrun.RouterDir(dataDir, "front"), Settings: routerd.Settings{Listen: listen}})
	if err != nil {
		t.Fatal(err)
	}
	var srv *child
	t.Cleanup(func() {
		if v, err := rc.State(context.Background()); err == nil {
			syscall.Kill(v.PID, syscall.SIGTERM)
		}
		// The instances are stopped through their state dir once no server holds it.
		srv.cmd.Process.Kill()
		for syscall.Kill(srv.cmd.Process.Pid, 0) == nil && !exitedChild(srv.cmd.Process.Pid) {
			time.Sleep(10 * time.Millisecond)
		}
		stopInstances(t, envrun.LocalStateDir(dataDir, "front"))
	})
	srv = startChild(t, dataDir, "", "SLUICE_TEST_ROUTER_EXE="+os.Args[0])
	if _, err := srv.client.Apply(t.Context(), "front.yaml", []byte(routerDocs(listen)), false); err != nil {
		t.Fatal(err)
	}
	ex, err := srv.client.Run(t.Context(), "release", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ex = waitEnded(t, srv.client, ex.ID); ex.Status != "succeeded" {
		t.Fatalf("release: %s: %s", ex.Status, ex.Reason)
	}
	v, err := rc.State(t.Context())
	if err != nil {
		t.Fatalf("no router process answers in %s: %v", envrun.RouterDir(dataDir, "front"), err)
	}
	if v.PID == srv.cmd.Process.Pid {
		t.Fatal("the router runs in the server process")
	}
	srv.cmd.Process.Kill()
	<-srv.exited
	for i := range 20 {
		if status, err := getStatus("http://" + listen + "/"); err != nil || status != http.StatusOK {
			t.Fatalf("request %d after the server was killed: %d, %v", i, status, err)
		}
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if w, err := rc.Weights(t.Context(), svc); err != nil || w != traffic.All(platform.Green) {
		t.Fatalf("weights after the server was killed: %v, %v; want all green", w, err)
	}
	srv = startChild(t, dataDir, "", "SLUICE_TEST_ROUTER_EXE="+os.Args[0])
	if ex, err = srv.client.Run(t.Context(), "shift", 0, nil); err != nil {
		t.Fatal(err)
	}
	if ex = waitEnded(t, srv.client, ex.ID); ex.Status != "succeeded" {
		t.Fatalf("shift after the restart: %s: %s", ex.Status, ex.Reason)
	}
	if w, err := rc.Weights(t.Context(), svc); err != nil || w != (traffic.Weights{Green: 70, Blue: 30}) {
		t.Fatalf("weights after the restarted server's change: %v, %v; want green 70 blue 30", w, err)
	}
	if after, err := rc.State(t.Context()); err != nil || after.PID != v.PID {
		t.Fatalf("router pid %d after the server's restart (%v), want the adopted %d", after.PID, err, v.PID)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
}

// exitedChild reports whether pid is gone or a zombie.
func exitedChild(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] == 'Z'
		}
	}
	return false
}

// getStatus returns the status of one GET.
func getStatus(url string) (int, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
