package ui_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const undoFiles = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform: {type: recorder, recorder: {file: effects.jsonl}}
  router: {type: recorder, recorder: {file: effects.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  variables:
    - {name: version, type: string, required: true}
    - {name: delay, type: duration, default: 0s}
  service: {name: shop, port: 8080, artifact: "shop:${version}"}
  phases:
    - name: release
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - promote: {}
        - scaledown: {delay: "${delay}"}
`

// TestBrowserUndo releases v1, then v2 whose old slot stays warm for an hour, and
// undoes v2 from the environments page: after the confirmation the page shows v2's
// execution rolled back with the reason typed.
func TestBrowserUndo(t *testing.T) {
	chromium(t)
	s := startSluiceUI(t)
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", "alice", "application/yaml", undoFiles, nil)
	var v1, v2 struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json", `{"variables":{"version":"v1"}}`, &v1)
	waitServices(t, s, "shop:v1")
	waitExec(t, s, v1.ID, "succeeded") // the router serves v1 before its execution has ended
	s.call(t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json", `{"variables":{"version":"v2","delay":"1h"}}`, &v2)
	waitServices(t, s, "shop:v2")

	b := newBrowser(t, s.url)
	b.do("environments", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/environments"))
	b.setUser("alice")
	b.wait("undo button", `document.querySelector('[data-env="prod"] [data-service="shop"] [data-action="undo"]') !== null`)
	b.do("undo", chromedp.Click(css(`[data-service="shop"] [data-action="undo"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "checkout errors"), chromedp.Click(css("#confirm-ok")))
	b.wait("v2's page", `location.pathname === '/executions/`+v2.ID+`'`)
	b.wait("rolled back", `document.querySelector('#exec-status .badge')?.dataset.status === 'rolled_back'`)
	b.wait("reason shown", `document.body.textContent.includes('checkout errors')`)
	b.checkClean()
}

// waitServices waits until the prod shop service's live artifact is want.
func waitServices(t *testing.T, s *sluiceUI, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var list struct {
			Items []struct{ Artifact string } `json:"items"`
		}
		s.call(t, "GET", "/api/v1/services", "alice", "", "", &list)
		if len(list.Items) == 1 && list.Items[0].Artifact == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("shop never went live with %s", want)
}
