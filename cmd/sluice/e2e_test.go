package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/server"
)

// e2eCLI runs the sluice command in-process against a server and returns its exit code
// and output.
type e2eCLI struct {
	t      *testing.T
	server string
}

func (c e2eCLI) run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := map[string]string{"SLUICE_SERVER": c.server, "SLUICE_USER": "alice"}
	code := run(context.Background(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// startServer runs a real sluice server (engine, SQLite store, recorder platform)
// in-process on a free port.
func startServer(t *testing.T) e2eCLI {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, Ready: func(a string) { ready <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return e2eCLI{t: t, server: "http://" + addr}
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	return e2eCLI{}
}

// stagingShop opens the files of the CLI's releases: the environment staging on the
// recorder platform and router (into effects.jsonl), and the head of the workflow
// shop in staging, up to its first variable, artifact; the rest of its variables,
// its service and its phases follow.
const stagingShop = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  platform: {type: recorder, recorder: {file: effects.jsonl}}
  router: {type: recorder, recorder: {file: effects.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: staging
  variables:
    - {name: artifact, type: string, required: true}
`

const e2eFiles = stagingShop + `    - {name: canary_percent, type: percent, default: "10"}
  service: {name: shop, port: 8080, artifact: "${artifact}", instances: 2}
  phases:
    - name: setup-blue
      steps:
        - deploy: {instances: 100%}
    - name: canary
      steps:
        - traffic: ${canary_percent}%
        - approval: {approvers: [alice]}
    - name: promote
      steps:
        - promote: {}
`

// TestCLIAgainstARealServer drives a release from the command line the way a person
// would: validate, apply, run with --follow, approve from another terminal, and
// check the service's live slot.
func TestCLIAgainstARealServer(t *testing.T) {
	c := startServer(t)
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(file, []byte(e2eFiles), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := c.run("validate", file); code != 0 {
		t.Fatalf("validate: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := c.run("apply", "-f", file); code != 0 || !strings.Contains(out, "Workflow shop created") {
		t.Fatalf("apply: %d %q %q", code, out, errOut)
	}
	code, _, errOut := c.run("run", "shop", "--set", "canary_percent=150", "--set", "artifact=shop:v1")
	if code == 0 || !strings.Contains(errOut, "canary_percent") {
		t.Fatalf("run with a bad percentage: exit %d, stderr %q; want a non-zero exit naming the variable", code, errOut)
	}

	type result struct {
		code     int
		out, err string
	}
	followed := make(chan result, 1)
	go func() {
		code, out, errOut := c.run("run", "shop", "--set", "artifact=shop:v1", "--follow")
		followed <- result{code, out, errOut}
	}()
	id := waitForWaiting(t, c)
	if code, out, errOut := c.run("approve", id, "--comment", "ship it"); code != 0 {
		t.Fatalf("approve: %d %q %q", code, out, errOut)
	}
	select {
	case r := <-followed:
		if r.code != 0 || !strings.Contains(r.out, "approved by alice: ship it") || !strings.Contains(r.out, "green is now live") {
			t.Fatalf("run --follow: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run --follow did not end")
	}
	if code, out, _ := c.run("get", "services"); code != 0 || !strings.Contains(out, "green") {
		t.Fatalf("get services: %d %q", code, out)
	}
	if code, _, errOut := c.run("approve", id); code == 0 || !strings.Contains(errOut, "succeeded") {
		t.Fatalf("approving a finished execution: exit %d, %q", code, errOut)
	}
}

// waitForWaiting returns the ID of the execution once it waits for approval.
func waitForWaiting(t *testing.T, c e2eCLI) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_, out, _ := c.run("get", "executions")
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 4 && f[4] == "waiting" {
				return f[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no execution waits for approval")
	return ""
}
