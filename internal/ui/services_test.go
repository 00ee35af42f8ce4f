package ui_test

import (
	"encoding/json"
	"fmt"
	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// servicesFiles releases shop on the local platform behind the builtin router, whose
// admin listener the test reads back on its own. Every release waits for alice's
// approval after the promotion, before the old slot is scaled down (after ${delay}).
const servicesFiles = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform:
    type: local
    local:
      stopGrace: 1s
      commands:
        - {name: probe, executable: %[1]q, args: [--port, "${PORT}", --version, "${VERSION}"]}
  router: {type: builtin, builtin: {listen: %[2]q, admin: %[3]q}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  variables:
    - {name: version, type: string, required: true}
    - {name: delay, type: duration, default: 0s}
  service: {name: shop, port: 8080, artifact: "probe:${version}", health: {path: /healthz}, env: {%[4]s: "1", GORACE: atexit_sleep_ms=0}}
  phases:
    - name: release
      steps:
        - service: {}
        - deploy: {instances: 1}
        - traffic: 100%%
        - promote: {}
        - name: keep-it
          approval: {approvers: [alice], timeout: 1h, onTimeout: rollback}
        - scaledown: {delay: "${delay}"}
`

// routerLive reads the builtin router's admin /weights and names the slot with more
// traffic ("" when neither has more).
func routerLive(t *testing.T, admin string) string {
	t.Helper()
	res, err := http.Get("http://" + admin + "/weights")
	if err != nil {
		t.Fatalf("router read-back: %v", err)
	}
	defer res.Body.Close()
	var body struct {
		Weights struct{ Blue, Green int } `json:"weights"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("router read-back: %v", err)
	}
	switch w := body.Weights; {
	case w.Green > w.Blue:
		return "green"
	case w.Blue > w.Green:
		return "blue"
	}
	return ""
}

// TestBrowserServicesLive releases v1 and v2, rolls v2 back after its promotion,
// releases v3 with its old slot kept warm, and undoes it: after each, the live slot
// and artifact the Services page shows are the builtin router's own read-back and
// what that slot runs.
func TestBrowserServicesLive(t *testing.T) {
	chromium(t)
	s := startSluiceUI(t)
	admin := localtest.FreeAddr(t)
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", "alice", "application/yaml",
		fmt.Sprintf(servicesFiles, testExe, localtest.FreeAddr(t), admin, appEnv), nil)
	b := newBrowser(t, s.url)
	b.do("services", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/services"))
	b.setUser("alice")

	// showsLive waits until the page shows artifact live in the slot the router
	// reads back, and says which slot that is.
	showsLive := func(what, artifact string) string {
		t.Helper()
		b.do(what, chromedp.Navigate(s.url+"/services/prod/shop"))
		b.wait(what+": "+artifact+" shown", fmt.Sprintf(`document.querySelector('#service-live-artifact')?.textContent === %q`, artifact))
		var shown string
		b.eval(`document.querySelector('#service-live-slot').dataset.slot`, &shown)
		if got := routerLive(t, admin); shown != got {
			t.Fatalf("%s: the page shows %q live, the router reads back %q", what, shown, got)
		}
		return shown
	}
	release := func(version, delay string) string {
		t.Helper()
		var ex struct{ ID string }
		s.call(t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json",
			fmt.Sprintf(`{"variables":{"version":%q,"delay":%q}}`, version, delay), &ex)
		waitExec(t, s, ex.ID, "waiting")
		return ex.ID
	}

	v1 := release("v1", "0s")
	first := showsLive("v1 promoted", "probe:v1")
	s.call(t, "POST", "/api/v1/executions/"+v1+"/approve", "alice", "application/json", `{}`, nil)
	waitExec(t, s, v1, "succeeded")

	v2 := release("v2", "0s")
	if got := showsLive("v2 promoted", "probe:v2"); got == first {
		t.Fatalf("v2 promoted into the live slot %s", got)
	}
	s.call(t, "POST", "/api/v1/executions/"+v2+"/rollback", "alice", "application/json", `{"reason":"bad"}`, nil)
	waitExec(t, s, v2, "rolled_back")
	if got := showsLive("v2 rolled back after its promotion", "probe:v1"); got != first {
		t.Fatalf("after the rollback %s is live, want %s", got, first)
	}

	v3 := release("v3", "1h")
	showsLive("v3 promoted", "probe:v3")
	s.call(t, "POST", "/api/v1/executions/"+v3+"/approve", "alice", "application/json", `{}`, nil)
	waitStep(t, s, v3, "scaledown") // the old slot stays warm for an hour
	b.wait("release history", `document.querySelectorAll('#releases tbody tr').length === 3`)
	b.shot("services-laptop-light")
	s.call(t, "POST", "/api/v1/services/prod/shop/undo", "alice", "application/json", `{"reason":"undo v3"}`, nil)
	if got := showsLive("v3 undone", "probe:v1"); got != first {
		t.Fatalf("after the undo %s is live, want %s", got, first)
	}

	// Two releases compared: the artifact and the version variable changed.
	b.wait("releases after the undo", `document.querySelectorAll('#releases tbody tr').length >= 3`)
	b.do("pick two", chromedp.Click(css(`#releases input.pick[data-id="`+v1+`"]`)), chromedp.Click(css(`#releases input.pick[data-id="`+v2+`"]`)))
	b.wait("diff", `document.querySelector('#diff-table tr[data-what="Artifact"]')?.className === 'changed'`)
	b.wait("same workflow", `document.querySelector('#diff-table tr[data-what="Workflow"]')?.className === 'same'`)
	b.checkClean()
}

// waitExec waits until an execution has a status.
func waitExec(t *testing.T, s *sluiceUI, id, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var ex struct{ Status, Reason string }
	for time.Now().Before(deadline) {
		s.call(t, "GET", "/api/v1/executions/"+id, "alice", "", "", &ex)
		if ex.Status == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("execution %s is %s (%s), want %s", id, ex.Status, ex.Reason, want)
}

// waitStep waits until an execution's current step is of a type.
func waitStep(t *testing.T, s *sluiceUI, id, stepType string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var list struct {
		Items []struct {
			ID       string
			Progress struct{ StepType string }
		}
	}
	for time.Now().Before(deadline) {
		s.call(t, "GET", "/api/v1/executions?active=true", "alice", "", "", &list)
		for _, x := range list.Items {
			if x.ID == id && x.Progress.StepType == stepType {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("execution %s never reached a %s step", id, stepType)
}
