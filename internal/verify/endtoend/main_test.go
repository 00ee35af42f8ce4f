package endtoend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"github.com/sluicehq/sluice/internal/sampleapp"
	"github.com/sluicehq/sluice/internal/server/servertest"
	"github.com/sluicehq/sluice/internal/store"
)

// appEnv, when set, makes the test binary run the sample application instead of
// the tests, so the binary is the artifact the engine's local platform starts.
const appEnv = "SLUICE_ENDTOEND_TEST_APP"

// testExe is the test binary as the local platform's instances can run it.
var testExe string

func TestMain(m *testing.M) {
	if os.Getenv(appEnv) == "1" {
		os.Exit(sampleapp.Main(os.Args[1:], os.Stderr))
	}
	exe, cleanup, err := localtest.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testExe = exe
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// environment is a local platform with the builtin router listening on listen
// and its own metrics as the provider "router".
func environment(listen string) string {
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: e2e}
spec:
  platform:
    type: local
    local:
      stopGrace: 1s
      commands:
        - {name: app, executable: %q, args: [--port, "${PORT}", --version, "${VERSION}"]}
  router: {type: builtin, builtin: {listen: %s}}
  providers:
    - {name: router, type: builtin}
`, testExe, listen)
}

// service is the workflows' common head: the sample app failing error_rate of
// its requests; vars declares more variables.
func service(vars string) string {
	return fmt.Sprintf(`  environment: e2e
  variables:
    - {name: version, type: string, default: v1}
    - {name: error_rate, type: string, default: "0"}
%s  service:
    name: shop
    port: 8080
    artifact: app:${version}
    instances: 1
    env: {%s: "1", SAMPLE_APP_ERROR_RATE: "${error_rate}"}
    health: {path: /healthz, timeout: 1s}`, vars, appEnv)
}

// firstRelease makes v1 live with all traffic.
var firstRelease = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: first-release}
spec:
` + service("") + `
  phases:
    - name: first
      steps:
        - service: {}
        - deploy: {instances: 1}
        - traffic: 100%
        - promote: {}
`

// startWithV1Live starts a server, applies the environment e2e with its router on a
// free address, firstRelease and release, and runs the first release of v1; it
// returns the client and the router's address.
func startWithV1Live(t *testing.T, ctx context.Context, release string) (*client.Client, string) {
	t.Helper()
	listen := localtest.FreeAddr(t)
	c := servertest.Start(t, ctx, "e2e")
	docs := environment(listen) + "---\n" + firstRelease + "---\n" + release
	if _, err := c.Apply(ctx, "e2e.yaml", []byte(docs), false); err != nil {
		t.Fatalf("apply: %v\n%s", err, docs)
	}
	if v1 := servertest.Execute(t, ctx, c, "first-release", map[string]string{"version": "v1"}); v1.Status != store.StatusSucceeded {
		t.Fatalf("first release %s: %s", v1.Status, v1.Reason)
	}
	return c, listen
}

// state reads an execution's engine state.
func state(t *testing.T, ctx context.Context, c *client.Client, id string) engine.State {
	t.Helper()
	ex, err := c.GetExecution(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var st engine.State
	if err := json.Unmarshal(ex.State, &st); err != nil {
		t.Fatalf("state of %s: %v", id, err)
	}
	return st
}

// consoleText is an execution's console and events, one a line.
func consoleText(t *testing.T, ctx context.Context, c *client.Client, id string) string {
	page, err := c.Events(ctx, id, 0, 5000)
	if err != nil {
		return fmt.Sprintf("(console: %v)", err)
	}
	var b strings.Builder
	for _, e := range page.Items {
		fmt.Fprintf(&b, "%s %s %s %s %s\n", e.At.Format("15:04:05.000"), e.Type, e.Step, e.Level, e.Message)
	}
	return b.String()
}

// userLoad sends rps requests a second to url until the returned function is called.
func userLoad(ctx context.Context, url string, rps int) func() {
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rps))
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
				go func() {
					if resp, err := http.Get(url); err == nil {
						resp.Body.Close()
					}
				}()
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}
