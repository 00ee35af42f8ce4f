package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const pipelineFiles = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  platform: {type: recorder, recorder: {file: staging.jsonl}}
  router: {type: recorder, recorder: {file: staging.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: production}
spec:
  platform: {type: recorder, recorder: {file: production.jsonl}}
  router: {type: recorder, recorder: {file: production.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: ${env}
  variables:
    - {name: env, type: string, required: true}
    - {name: artifact, type: string, required: true}
  service: {name: shop, port: 8080, artifact: "${artifact}"}
  phases:
    - name: release
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - promote: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  variables: [{name: artifact, type: string, required: true}]
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - name: production
      workflow: shop
      environment: production
      gates: [{approval: {approvers: [alice]}}]
`

// TestPipelineCLI runs a pipeline from the command line: run --follow prints the
// run's log while status shows production held by its gate; approve lets it go on and
// the followed run exits 0; get pipelines and pipeline list show it. --follow reads
// the run's event stream, and polls the run instead when the stream fails: here in
// front of a proxy that answers 404 to it, as a server without the stream would.
func TestPipelineCLI(t *testing.T) {
	tests := []struct {
		name   string
		proxy  bool // through a proxy that refuses event streams
		stream bool // --follow reads the stream (else it says it polls)
	}{
		{"event stream", false, true},
		{"stream refused, polling", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startServer(t)
			if tc.proxy {
				c.server = refusingStreams(t, c.server)
			}
			testPipelineCLI(t, c, tc.stream)
		})
	}
}

// refusingStreams is a proxy to server that answers 404 to every events request.
func refusingStreams(t *testing.T, server string) string {
	target, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func testPipelineCLI(t *testing.T, c e2eCLI, stream bool) {
	file := filepath.Join(t.TempDir(), "release.yaml")
	if err := os.WriteFile(file, []byte(pipelineFiles), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := c.run("validate", file); code != 0 {
		t.Fatalf("validate: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := c.run("apply", "-f", file); code != 0 || !strings.Contains(out, "Pipeline release created") {
		t.Fatalf("apply: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := c.run("pipeline", "run", "release"); code == 0 || !strings.Contains(errOut, "artifact") {
		t.Fatalf("run without the artifact: exit %d, %q", code, errOut)
	}
	type result struct {
		code     int
		out, err string
	}
	followed := make(chan result, 1)
	go func() {
		code, out, errOut := c.run("pipeline", "run", "release", "--var", "artifact=shop:v2", "--follow")
		followed <- result{code, out, errOut}
	}()
	id := ""
	deadline := time.Now().Add(30 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		_, out, _ := c.run("pipeline", "list")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "waiting") && strings.Contains(line, "production:gated") {
				id = strings.Fields(line)[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("the run never waited at production's gate")
	}
	code, out, errOut := c.run("pipeline", "status", id)
	if code != 0 || !strings.Contains(out, "approval (alice)") || !strings.Contains(out, "shop:v2") {
		t.Fatalf("status: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := c.run("pipeline", "approve", id, "production", "--comment", "ship it"); code != 0 {
		t.Fatalf("approve: %d %q %q", code, out, errOut)
	}
	select {
	case r := <-followed:
		if r.code != 0 || !strings.Contains(r.out, "approved by alice: ship it") || !strings.Contains(r.out, "pipeline release succeeded") ||
			!strings.Contains(r.out, "run is waiting for approval before stage production") {
			t.Fatalf("run --follow: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
		}
		if polled := strings.Contains(r.err, "polling instead"); polled == stream {
			t.Fatalf("run --follow polled: %v, want %v\nstderr:\n%s", polled, !stream, r.err)
		}
		if n := strings.Count(r.out, "approved by alice"); n != 1 {
			t.Fatalf("run --follow printed the decision %d times, want once:\n%s", n, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline run --follow did not end")
	}
	if code, out, _ := c.run("get", "pipelines"); code != 0 || !strings.Contains(out, "release") {
		t.Fatalf("get pipelines: %d %q", code, out)
	}
	if code, _, errOut := c.run("pipeline", "approve", id, "production"); code == 0 || !strings.Contains(errOut, "ended") {
		t.Fatalf("approving an ended run: exit %d, %q", code, errOut)
	}
}
