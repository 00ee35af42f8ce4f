package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// TestMain doubles as the server process of the crash tests: with
// SLUICE_TEST_SERVER_DIR set, the test binary runs a real sluice server in that
// directory instead of the tests, so a test can SIGKILL it and start it again.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "router" { // the router process of router_process_test.go
		os.Exit(runChildRouter(os.Args[2:]))
	}
	if dir := os.Getenv("SLUICE_TEST_SERVER_DIR"); dir != "" {
		os.Exit(runChildServer(dir))
	}
	if os.Getenv(probeEnv) == "1" {
		os.Exit(runProbe())
	}
	exe, cleanup, err := localtest.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	probeExe = exe
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func runChildServer(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	lease, _ := time.ParseDuration(os.Getenv("SLUICE_TEST_LEASE"))
	requestPoll, _ := time.ParseDuration(os.Getenv("SLUICE_TEST_REQUEST_POLL"))
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dir, DatabaseURL: os.Getenv("SLUICE_TEST_DATABASE_URL"), Lease: lease,
		Releases: os.Getenv("SLUICE_TEST_RELEASES"), ReleasesKubeconfig: os.Getenv("SLUICE_TEST_RELEASES_KUBECONFIG"),
		RouterExecutable: os.Getenv("SLUICE_TEST_ROUTER_EXE")}
	cfg.RequestPoll = requestPoll
	cfg.PipelinePoll, _ = time.ParseDuration(os.Getenv("SLUICE_TEST_PIPELINE_POLL"))
	cfg.Ready = func(addr string) {
		tmp := filepath.Join(dir, "addr.tmp")
		os.WriteFile(tmp, []byte(addr), 0o600)
		os.Rename(tmp, filepath.Join(dir, "addr"))
	}
	err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is one server process.
type child struct {
	dir    string
	cmd    *exec.Cmd
	client *client.Client
	stderr *bytes.Buffer
	exited chan error
}

func startChild(t *testing.T, dir, crashAt string, env ...string) *child {
	t.Helper()
	os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "SLUICE_TEST_SERVER_DIR="+dir, "SLUICE_TEST_CRASH_AT="+crashAt), env...)
	c := &child{dir: dir, cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		addr, err := os.ReadFile(filepath.Join(dir, "addr"))
		if err == nil {
			c.client, err = client.New("http://"+string(addr), client.WithUser("tester"))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		select {
		case err := <-c.exited:
			t.Fatalf("server exited before it was ready: %v\n%s", err, c.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready\n%s", c.stderr)
		}
	}
}

// waitKilled waits for the child to die of SIGKILL at its crash point.
func (c *child) waitKilled(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("server ended with %v, want SIGKILL at its crash point\n%s", err, c.stderr)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("server never reached its crash point\n%s", c.stderr)
	}
}

// crashFiles are a canary release that moves traffic twice before it promotes.
var crashFiles = prodRecorder + "---\n" + shopCanary(`        - wait: 30ms
        - traffic: 50%
`, `        - scaledown: {}
`)

// seedLiveGreen records a past release: green live with two instances.
func seedLiveGreen(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	rec, err := recorder.Open(filepath.Join(dir, "effects.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	err = rec.Deploy(ctx, platform.Deployment{Ref: platform.SlotRef{Service: "shop", Slot: platform.Green}, Artifact: "shop:v1", Instances: 2, Key: "seed"})
	rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Commit(ctx, &store.Commit{Service: &store.ServiceState{Environment: "prod", Service: "shop", LiveSlot: "green", Artifact: "shop:v1", Instances: 2, UpdatedAt: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSIGKILLAtEveryKindOfJournalBoundary kills the server at a journal boundary in
// the middle of a release, including between a side effect and its journal entry,
// starts it again, and checks that the release finishes with every side effect
// applied exactly once and in order.
func TestSIGKILLAtEveryKindOfJournalBoundary(t *testing.T) {
	points := []string{
		"step.started:1", "step.started:5",
		"effect.intent:2",
		"effect.applied:1", "effect.applied:2", "effect.applied:4", "effect.applied:6",
		"effect.done:3",
		"step.finished:4",
	}
	want := []string{
		"ensure shop",
		"deploy shop blue shop:v2 x2",
		"weights shop green=90 blue=10",
		"weights shop green=50 blue=50",
		"weights shop green=0 blue=100",
		"scale shop green x0",
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			seedLiveGreen(t, dir)
			ctx := context.Background()
			srv := startChild(t, dir, point)
			if _, err := srv.client.Apply(ctx, "crash.yaml", []byte(crashFiles), false); err != nil {
				t.Fatal(err)
			}
			// The server may die before it answers: the execution is durable once
			// started, so its ID is looked up after the restart.
			srv.client.Run(ctx, "shop", 0, nil) //nolint:errcheck
			srv.waitKilled(t)

			srv = startChild(t, dir, "")
			list, err := srv.client.ListExecutions(ctx, client.ExecutionFilter{})
			if err != nil || len(list) != 1 {
				t.Fatalf("executions after the restart: %d (%v), want 1", len(list), err)
			}
			got := waitTerminal(t, srv, list[0].ID)
			if got.Status != string(store.StatusSucceeded) {
				t.Fatalf("after restart the execution is %s (%s)\n%s", got.Status, got.Reason, srv.stderr)
			}
			checkEffects(t, dir, point, want)
			checkBlueLive(t, srv)
		})
	}
}

func describe(e recorder.Effect) string {
	switch e.Op {
	case "deploy":
		return fmt.Sprintf("deploy %s %s %s x%d", e.Service, e.Slot, e.Artifact, e.Instances)
	case "scale":
		return fmt.Sprintf("scale %s %s x%d", e.Service, e.Slot, e.Instances)
	case "weights":
		return fmt.Sprintf("weights %s %s", e.Service, e.Weights)
	default:
		return e.Op + " " + e.Service
	}
}

func waitTerminal(t *testing.T, c *child, id string) struct{ Status, Reason string } {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ex, err := c.client.GetExecution(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if store.Status(ex.Status).Terminal() {
			return struct{ Status, Reason string }{string(ex.Status), ex.Reason}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("execution %s did not finish\n%s", id, c.stderr)
	return struct{ Status, Reason string }{}
}
