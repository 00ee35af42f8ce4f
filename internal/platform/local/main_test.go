package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/sampleapp"
)

// appEnv, when set, makes the test binary run the sample application instead of the
// tests: the binary is its own artifact, with no dependency on cmd/sluice.
const appEnv = "SLUICE_LOCAL_TEST_APP"

// flagsEnv holds extra sample-app flags for one deployment: an artifact only picks a
// command and a version, so tests vary the rest through the service's env.
const flagsEnv = "SLUICE_LOCAL_TEST_FLAGS"

// testExe is the test binary as the instances' user can run it.
var testExe string

func TestMain(m *testing.M) {
	if os.Getenv(appEnv) == "1" {
		os.Exit(runSampleApp())
	}
	exe, cleanup, err := testExecutable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testExe = exe
	if dir := os.Getenv(hostEnv); dir != "" {
		os.Exit(runHost(dir))
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func runSampleApp() int {
	return sampleapp.Main(append(os.Args[1:], strings.Fields(os.Getenv(flagsEnv))...), os.Stderr)
}

// testCommands are the commands the tests' platforms allow: the test binary as the
// sample app (app:VERSION), one that listens elsewhere than ${PORT} (never), and
// /bin/false and /bin/true.
func testCommands() []Command {
	return []Command{
		{Name: "app", Executable: testExe, Args: []string{"--port", "${PORT}", "--version", "${VERSION}"}},
		{Name: "never", Executable: testExe, Args: []string{"--port", "0", "--version", "never"}},
		{Name: "false", Executable: "/bin/false"},
		{Name: "true", Executable: "/bin/true"},
	}
}

// hostEnv, when set to a state dir, makes the test binary act as a sluice that deploys
// hostRef there, prints "READY" once it is ready, and waits to be killed.
const hostEnv = "SLUICE_LOCAL_TEST_HOST"

var hostRef = platform.SlotRef{Service: "adopted", Slot: platform.Green}

func runHost(dir string) int {
	p, err := New(Options{StateDir: dir, KeepRunning: true, Commands: testCommands()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	d := platform.Deployment{Ref: hostRef, Artifact: "app:v1", Instances: 2,
		Env: appEnvVars, Health: httpHealth, Key: "host-deploy"}
	if err := p.Deploy(ctx, d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, _ := p.Status(ctx, hostRef); st.Ready == 2 {
			fmt.Println("READY")
			select {} // until killed, like a sluice that crashes
		}
	}
	fmt.Fprintln(os.Stderr, "instances never became ready")
	return 1
}

// withFlags returns d with extra sample-app flags.
func withFlags(d platform.Deployment, flags string) platform.Deployment {
	d.Env = maps.Clone(d.Env)
	d.Env[flagsEnv] = flags
	return d
}

// appEnvVars is the Env of every deployment of the test binary.
// GORACE: a race-enabled binary otherwise sleeps a second at exit.
var appEnvVars = map[string]string{appEnv: "1", "GORACE": "atexit_sleep_ms=0"}

var httpHealth = platform.HealthCheck{Path: "/healthz", Status: 200}

// testOptions are short timings so every wait in the tests stays within seconds.
func testOptions(t *testing.T) Options {
	return Options{
		StateDir:       t.TempDir(),
		Commands:       testCommands(),
		StopGrace:      2 * time.Second,
		HealthInterval: 100 * time.Millisecond,
		HealthTimeout:  500 * time.Millisecond,
		ReadyTimeout:   10 * time.Second,
		RestartBackoff: 50 * time.Millisecond,
		MaxBackoff:     500 * time.Millisecond,
	}
}

// newTest creates a platform that is closed (stopping everything) when t ends.
func newTest(t *testing.T, opts Options) *Platform {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func deployment(ref platform.SlotRef, artifact string, n int, key string) platform.Deployment {
	return platform.Deployment{Ref: ref, Artifact: artifact, Instances: n, Env: appEnvVars, Health: httpHealth, Key: key}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitStatus polls Status until cond holds, failing the test after timeout.
func waitStatus(t *testing.T, p *Platform, ref platform.SlotRef, timeout time.Duration, what string, cond func(platform.SlotStatus) bool) platform.SlotStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := p.Status(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: waited %s for %s; status %+v", ref, timeout, what, st)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func waitReady(t *testing.T, p *Platform, ref platform.SlotRef, n int) platform.SlotStatus {
	t.Helper()
	return waitStatus(t, p, ref, 15*time.Second, fmt.Sprintf("%d ready", n), func(st platform.SlotStatus) bool {
		return st.Desired == n && st.Ready == n
	})
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z'
}

// groupMembers lists the live processes of process group pgid, from /proc.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.pgrp == pgid && st.state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

func pids(p *Platform, ref platform.SlotRef) []int {
	var out []int
	for _, in := range p.Instances(ref) {
		out = append(out, in.PID)
	}
	return out
}

func joinReasons(st platform.SlotStatus) string { return strings.Join(st.Reasons, "; ") }

var errTimeout = errors.New("timed out")

// eventually polls cond every 25ms until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errTimeout
		}
		time.Sleep(25 * time.Millisecond)
	}
	return nil
}

// httpGet returns the body of a GET of url.
func httpGet(t *testing.T, url string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// testExeEnv carries the runnable copy's path to the test binary's own children (they
// run TestMain again), so they name the same executable and make no copy of their own.
// It is localtest.Executable, which this package's tests cannot import.
const testExeEnv = "SLUICE_LOCALTEST_EXE"

func testExecutable() (string, func(), error) {
	if p := os.Getenv(testExeEnv); p != "" {
		return p, func() {}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	exe, cleanup, err := RunnableCopy(self, "sluice-test-exe-*")
	if err == nil {
		os.Setenv(testExeEnv, exe)
	}
	return exe, cleanup, err
}
