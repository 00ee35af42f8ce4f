package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/platform/local"
	"github.com/sluicehq/sluice/internal/sampleapp"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
)

// probeEnv makes the test binary an instance that tries what an attacker's app would:
// read the server's data directory, database and token file, print the server's
// environment, a secret sluice knows and its own secret env value; then it serves as
// the sample app.
const probeEnv = "SLUICE_SERVER_TEST_PROBE"

// probeExe is the test binary as the instances' user can run it.
var probeExe string

// serverOnlyEnv is set in the server's environment only; an instance must not see it.
const serverOnlyEnv = "SLUICE_TEST_SERVER_ONLY_SECRET"

func runProbe() int {
	for _, p := range filepath.SplitList(os.Getenv("PROBE_READ")) {
		if _, err := os.ReadFile(p); err != nil {
			if _, derr := os.ReadDir(p); derr == nil {
				err = nil
			}
			if err != nil {
				fmt.Printf("probe read %s: %v\n", p, err)
				continue
			}
		}
		fmt.Printf("probe read %s: READABLE\n", p)
	}
	wd, _ := os.Getwd()
	fmt.Printf("probe uid=%d home=%s cwd=%s\n", os.Getuid(), os.Getenv("HOME"), wd)
	fmt.Printf("probe server env: [%s] env count %d\n", os.Getenv(serverOnlyEnv), len(os.Environ()))
	if b, err := os.ReadFile(os.Getenv("PROBE_KNOWN_SECRET_FILE")); err == nil {
		fmt.Printf("probe known secret: %s\n", strings.TrimSpace(string(b)))
	}
	fmt.Printf("probe own secret: %s\n", os.Getenv("DB_PASSWORD"))
	fmt.Fprintf(os.Stderr, "probe own secret on stderr: %s\n", os.Getenv("DB_PASSWORD"))
	return sampleapp.Main(os.Args[1:], os.Stderr)
}

// syncBuffer is a bytes.Buffer for a logger written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// confineDocs are an environment that allows one command (the probe, by version) and
// a workflow whose artifact is a free variable, as in every example.
func confineDocs(listen, dataDir, tokenFile, knownFile, ownSecret string) string {
	read := strings.Join([]string{dataDir, tokenFile, filepath.Join(dataDir, "sluice.db")}, ":")
	return localProbeEnvironment("lockdown", probeExe, listen) + fmt.Sprintf(`---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: release}
spec:
  environment: lockdown
  variables:
    - {name: artifact, type: string, required: true}
  service:
    name: shop
    port: 8080
    artifact: ${artifact}
    health: {path: /healthz}
    env:
      %s: "1"
      GORACE: atexit_sleep_ms=0
      PROBE_READ: %q
      PROBE_KNOWN_SECRET_FILE: %q
      DB_PASSWORD: {value: %q, secret: true}
  phases:
    - name: release
      steps:
        - service: {}
        - deploy: {instances: 1}
        - traffic: 100%%
        - promote: {}
`, probeEnv, read, knownFile, ownSecret)
}

// TestDeployerCannotTakeOverTheMachine: with --auth, a deployer's run of a command the
// environment does not allow is refused with an error naming what was tried and what
// is allowed; an allowed instance runs as nobody, with a clean environment and its own
// working directory, and can read neither the data directory nor the token file; and
// secrets it prints are found nowhere: SQLite file, API, event stream, server log.
func TestDeployerCannotTakeOverTheMachine(t *testing.T) {
	// Every directory above the data dir is open to all: only the data dir's and the
	// token file's own modes keep the instance out.
	base := rootBaseDir(t, "sluice-confine-*")
	dataDir := filepath.Join(base, "data")
	tokenFile := filepath.Join(dataDir, "admin-token")

	// Three secrets: one only in the server's environment, one sluice knows (resolved
	// from a file, as provider and notifier credentials are) that the app reads itself,
	// and the service's own env value marked secret.
	serverOnly := "server-only-" + randomWord(t)
	known := "known-credential-" + randomWord(t)
	own := "own-db-password-" + randomWord(t)
	t.Setenv(serverOnlyEnv, serverOnly)
	knownFile := filepath.Join(base, "app-config")
	if err := os.WriteFile(knownFile, []byte(known+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (&secrets.Resolver{}).Resolve(t.Context(), spec.SecretRef{File: knownFile}); err != nil {
		t.Fatal(err)
	}

	var logBuf syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Addr: "127.0.0.1:0", DataDir: dataDir,
			Logger:   slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Ready:    func(a string) { ready <- a },
			Security: Security{Auth: true, BootstrapTokenFile: tokenFile}})
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		}
	}
	t.Cleanup(func() {
		stop()
		stopInstances(t, envrun.LocalStateDir(dataDir, "lockdown"))
	})
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	url := "http://" + addr
	adminToken, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	admin := mustClient(t, url, strings.TrimSpace(string(adminToken)))
	if _, err := admin.Apply(ctx, "lockdown.yaml", []byte(confineDocs(localtest.FreeAddr(t), dataDir, tokenFile, knownFile, own)), false); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx, api.TokenRequest{User: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Grant(ctx, api.Grant{Subject: "dave", Role: "deployer", Environment: "lockdown"}); err != nil {
		t.Fatal(err)
	}
	dave := mustClient(t, url, tok.Secret)

	t.Run("a command outside the allowed list is refused", func(t *testing.T) {
		for _, artifact := range []string{"/bin/sh -c 'cat " + tokenFile + "'", "/bin/cat", "probe:v1/../../bin/sh"} {
			ex, err := dave.Run(ctx, "release", 0, map[string]string{"artifact": artifact})
			if err != nil {
				t.Fatal(err)
			}
			ex = waitEnded(t, dave, ex.ID)
			events := allEvents(t, dave, ex.ID)
			if ex.Status == "succeeded" || !strings.Contains(events, "not allowed") || !strings.Contains(events, "allowed: probe:VERSION") {
				t.Errorf("artifact %q: status %s; the console does not say it is not allowed and what is:\n%s", artifact, ex.Status, events)
			}
			if strings.Contains(events, "trying again") {
				t.Errorf("artifact %q: a refused deploy was retried:\n%s", artifact, events)
			}
		}
	})

	var consoleAPI, consoleStream string
	t.Run("an allowed instance is confined", func(t *testing.T) {
		ex, err := dave.Run(ctx, "release", 0, map[string]string{"artifact": "probe:v2"})
		if err != nil {
			t.Fatal(err)
		}
		var stream strings.Builder
		for e, err := range dave.Follow(ctx, ex.ID, 0) {
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&stream, "%s %s %s\n", e.Type, e.Level, e.Message)
		}
		consoleStream = stream.String()
		ex = waitEnded(t, dave, ex.ID)
		consoleAPI = allEvents(t, dave, ex.ID)
		if ex.Status != "succeeded" {
			t.Fatalf("release of probe:v2: %s\n%s", ex.Status, consoleAPI)
		}
		for _, p := range []string{dataDir, tokenFile, filepath.Join(dataDir, "sluice.db")} {
			if !strings.Contains(consoleAPI, "probe read "+p+": open "+p+": permission denied") {
				t.Errorf("the instance's read of %s was not denied:\n%s", p, consoleAPI)
			}
		}
		if strings.Contains(consoleAPI, "READABLE") || strings.Contains(consoleAPI, strings.TrimSpace(string(adminToken))) {
			t.Errorf("the instance read something of the server's:\n%s", consoleAPI)
		}
		if !strings.Contains(consoleAPI, "probe uid=65534 home=/") || !strings.Contains(consoleAPI, "probe server env: [] ") {
			t.Errorf("the instance does not run as nobody with a clean environment:\n%s", consoleAPI)
		}
		for _, want := range []string{"probe known secret: " + secrets.Mask, "probe own secret: " + secrets.Mask, "probe own secret on stderr: " + secrets.Mask} {
			if !strings.Contains(consoleAPI, want) || !strings.Contains(consoleStream, want) {
				t.Errorf("console lacks %q (API and stream):\n%s", want, consoleAPI)
			}
		}
	})

	stop()
	stopInstances(t, envrun.LocalStateDir(dataDir, "lockdown"))
	db := readAll(t, dataDir, "sluice.db")
	for name, secret := range map[string]string{"server-only": serverOnly, "known": known, "own": own} {
		for where, text := range map[string]string{"API": consoleAPI, "event stream": consoleStream, "server log": logBuf.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s secret is in the %s", name, where)
			}
		}
		// The own secret is written in the workflow, which the store keeps as applied;
		// what the instance printed must not add it anywhere else.
		if name != "own" && bytes.Contains(db, []byte(secret)) {
			t.Errorf("the %s secret is in the SQLite files", name)
		}
	}
	if n := bytes.Count(db, []byte(own)); n > 2 {
		t.Errorf("the own secret is in the SQLite files %d times; only the workflow's source (and its WAL copy) may hold it", n)
	}
}

// stopInstances stops what a stopped server left running for adoption: a platform
// opened on its state dir adopts the instances, and Close without KeepRunning stops them.
func stopInstances(t *testing.T, stateDir string) {
	t.Helper()
	p, err := local.New(local.Options{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("stopping the instances left for adoption: %v", err)
	}
}

func mustClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitEnded polls the execution until it has ended.
func waitEnded(t *testing.T, c *client.Client, id string) api.Execution {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ex, err := c.GetExecution(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Status.Terminal() {
			return ex
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still %s", id, ex.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allEvents returns every console event of an execution from the API, one a line.
func allEvents(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	var b strings.Builder
	after := int64(0)
	for {
		page, err := c.Events(t.Context(), id, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			fmt.Fprintf(&b, "%s %s %s\n", e.Type, e.Level, e.Message)
		}
		if len(page.Items) == 0 || page.Next <= after {
			return b.String()
		}
		after = page.Next
	}
}

// readAll returns the bytes of every file of the data directory whose name starts
// with prefix (the database, its WAL and shared memory).
func readAll(t *testing.T, dir, prefix string) []byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	if len(paths) == 0 {
		t.Fatalf("no %s* in %s", prefix, dir)
	}
	var all []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func randomWord(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("%x", time.Now().UnixNano())
}
