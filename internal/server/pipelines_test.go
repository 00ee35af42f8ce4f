package server

import (
	"context"
	"fmt"
	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/platform/local"
)

// pipelineDocs are two local environments on their own router ports, one workflow
// that takes its environment from a variable and checks each canary with a webhook,
// and a staging → production pipeline with an approval gate.
func pipelineDocs(stagingAddr, prodAddr, check string) string {
	var b strings.Builder
	for _, e := range [][2]string{{"staging", stagingAddr}, {"production", prodAddr}} {
		b.WriteString(localProbeEnvironment(e[0], probeExe, e[1]) + "---\n")
	}
	fmt.Fprintf(&b, `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: ${env}
  variables:
    - {name: env, type: string, required: true}
    - {name: artifact, type: string, required: true}
    - {name: check, type: string, default: "%[1]s/ok"}
  service: {name: shop, port: 8080, artifact: "${artifact}", health: {path: /healthz}, env: {%[2]s: "1", GORACE: atexit_sleep_ms=0}}
  phases:
    - name: canary
      steps:
        - service: {}
        - deploy: {instances: 1}
        - traffic: 20%%
        - webhook: {url: "${check}"}
    - name: release
      steps:
        - traffic: 100%%
        - promote: {}
        - scaledown: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  variables:
    - {name: artifact, type: string, required: true}
    - {name: prodCheck, type: string, default: "%[1]s/ok"}
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - name: production
      workflow: shop
      environment: production
      variables: {artifact: "${stages.staging.artifact}", check: "${pipeline.prodCheck}"}
      gates:
        - approval: {approvers: [carol]}
`, check, probeEnv)
	return b.String()
}

// TestPipelineOnLocalPlatform runs a staging → production pipeline on the local
// platform, each environment behind its own router port: staging releases v1 and
// production waits at its approval gate; the server is killed there (SIGKILL) and
// started again; carol's approval, taken by the new server, lets production release
// v1, which both ports then serve. A second run whose production check fails rolls
// production back to v1 (onFailure: rollback-stage) while staging keeps v2.
func TestPipelineOnLocalPlatform(t *testing.T) {
	base := rootBaseDir(t, "sluice-pipeline-*")
	dataDir, stagingAddr, prodAddr := filepath.Join(base, "data"), localtest.FreeAddr(t), localtest.FreeAddr(t)
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "checkout is broken", http.StatusInternalServerError)
		}
	}))
	defer check.Close()
	var srv *child
	t.Cleanup(func() {
		srv.cmd.Process.Kill()
		<-srv.exited
		for _, env := range []string{"staging", "production"} {
			stopInstancesWhenFree(t, envrun.LocalStateDir(dataDir, env))
		}
	})
	srv = startChild(t, dataDir, "")
	ctx := t.Context()
	if _, err := srv.client.Apply(ctx, "release.yaml", []byte(pipelineDocs(stagingAddr, prodAddr, check.URL)), false); err != nil {
		t.Fatal(err)
	}
	run, err := srv.client.RunPipeline(ctx, "release", 0, map[string]string{"artifact": "probe:v1"})
	if err != nil {
		t.Fatal(err)
	}
	waitPipeline(t, srv.client, run.ID, "waiting")
	if v := servedVersion(t, stagingAddr); v != "v1" {
		t.Fatalf("staging serves %q, want v1", v)
	}
	if svcs, err := srv.client.Services(ctx, "production"); err != nil || len(svcs) != 0 {
		t.Fatalf("production before the approval: %+v, %v", svcs, err)
	}

	srv.cmd.Process.Kill() // mid-gate
	<-srv.exited
	srv = startChild(t, dataDir, "")
	if err := srv.client.ApprovePipeline(ctx, run.ID, "production", "staging is fine"); err == nil {
		t.Fatal("tester, not an approver, approved production")
	}
	addr, _ := os.ReadFile(filepath.Join(dataDir, "addr"))
	carol, err := client.New("http://"+string(addr), client.WithUser("carol"))
	if err != nil {
		t.Fatal(err)
	}
	if err := carol.ApprovePipeline(ctx, run.ID, "production", "staging is fine"); err != nil {
		t.Fatalf("carol's approval after the restart: %v", err)
	}
	got := waitPipeline(t, srv.client, run.ID, "succeeded")
	prod := got.Stages[1]
	ex, err := srv.client.GetExecution(ctx, prod.Execution)
	if err != nil || ex.Environment != "production" || ex.Variables["artifact"] != "probe:v1" || ex.StartedBy != "tester" {
		t.Fatalf("production's execution: %+v, %v", ex, err)
	}
	for env, addr := range map[string]string{"staging": stagingAddr, "production": prodAddr} {
		if v := servedVersion(t, addr); v != "v1" {
			t.Fatalf("%s serves %q after the pipeline, want v1", env, v)
		}
	}

	run, err = srv.client.RunPipeline(ctx, "release", 0, map[string]string{"artifact": "probe:v2", "prodCheck": check.URL + "/fail"})
	if err != nil {
		t.Fatal(err)
	}
	waitPipeline(t, srv.client, run.ID, "waiting")
	if err := carol.ApprovePipeline(ctx, run.ID, "production", ""); err != nil {
		t.Fatal(err)
	}
	got = waitPipeline(t, srv.client, run.ID, "failed")
	if s := got.Stages[1]; s.Status != "failed" || s.ExecStatus != "rolled_back" {
		t.Fatalf("production after its failed check: %+v", s)
	}
	if v := servedVersion(t, prodAddr); v != "v1" {
		t.Fatalf("production serves %q after its rollback, want v1", v)
	}
	if v := servedVersion(t, stagingAddr); v != "v2" {
		t.Fatalf("staging serves %q, want v2 (rollback-stage leaves it)", v)
	}
}

// waitPipeline polls a run until it has the status; it fails when the run ends
// otherwise.
func waitPipeline(t *testing.T, c *client.Client, id, status string) api.PipelineRun {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		run, err := c.GetPipelineRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if string(run.Status) == status {
			return run
		}
		if run.Status.Terminal() || time.Now().After(deadline) {
			var log strings.Builder
			for _, l := range run.Log {
				fmt.Fprintf(&log, "  %s %s\n", l.Level, l.Message)
			}
			t.Fatalf("run %s is %s (%s), want %s\n%s", id, run.Status, run.Reason, status, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servedVersion asks the router at addr which version answers.
func servedVersion(t *testing.T, addr string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/version")
	if err != nil {
		t.Fatalf("GET %s/version: %v", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// stopInstancesWhenFree stops the instances a killed server left, once the state
// dir's lock (held until the killed server's last descriptor closes) is free.
func stopInstancesWhenFree(t *testing.T, stateDir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := local.New(local.Options{StateDir: stateDir})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Close(ctx); err != nil {
				t.Errorf("stopping the instances left in %s: %v", stateDir, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("instances in %s: %v", stateDir, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
