package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/notify"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

var notifyFiles = recorderEnvironment("prod", "effects.jsonl", `  notifications:
    baseURL: http://127.0.0.1:7070
    notifiers:
      - {name: audit, type: webhook, webhook: {url: "%s", secret: {env: SLUICE_TEST_NOTIFY_SECRET}}}
      - {name: team, type: slack, slack: {url: {env: SLUICE_TEST_NOTIFY_UNSET}}}
`)

const notifyWorkflow = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  service: {name: shop, port: 8080, artifact: "shop:v1", instances: 1}
  phases:
    - name: release
      steps:
        - deploy: {instances: 100%}
        - traffic: 100%
        - promote: {}
`

// TestNotificationsFromTheEngine runs a release through a real engine whose
// Publisher is what notifications returns: the webhook hears "started" and
// "succeeded", the broker still gets every event, and a notifier whose secret is
// missing puts one line on the console while the execution succeeds.
func TestNotificationsFromTheEngine(t *testing.T) {
	t.Setenv("SLUICE_TEST_NOTIFY_SECRET", "notify-secret-value")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var triggers []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := notify.Verify("notify-secret-value", r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), b, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var m notify.Message
		json.Unmarshal(b, &m)
		mu.Lock()
		triggers = append(triggers, m.Trigger)
		mu.Unlock()
	}))
	defer hook.Close()

	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for kind, src := range map[store.Kind]string{store.KindEnvironment: fmt.Sprintf(notifyFiles, hook.URL), store.KindWorkflow: notifyWorkflow} {
		name := map[store.Kind]string{store.KindEnvironment: "prod", store.KindWorkflow: "shop"}[kind]
		if _, _, err := st.PutDefinition(ctx, store.Definition{Kind: kind, Name: name, Source: src, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	broker := events.New(st)
	w := envrun.New(envrun.Builtin(), envrun.Options{DataDir: dir, Logger: log})
	defer w.Close()
	pub, stop := notifications(st, broker, w, log)
	eng, err := engine.New(engine.Options{Store: st, Resolver: w, Publisher: pub, Redact: secrets.Default.String})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := eng.Start(ctx, engine.StartRequest{Workflow: "shop", StartedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Wait(ctx, ex.ID); err != nil {
		t.Fatal(err)
	}
	eng.Close()
	stop()

	got, err := st.GetExecution(ctx, ex.ID)
	if err != nil || got.Status != store.StatusSucceeded {
		t.Fatalf("execution %s (%v): a failing notifier must not fail it", got.Status, err)
	}
	mu.Lock()
	slices.Sort(triggers)
	if want := []string{"started", "succeeded"}; !slices.Equal(triggers, want) {
		t.Errorf("webhook heard %q, want %q", triggers, want)
	}
	mu.Unlock()
	evs, err := st.Events(ctx, ex.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var failures []string
	for _, e := range evs {
		if strings.HasPrefix(e.Message, "notification ") {
			failures = append(failures, e.Message)
		}
	}
	if len(failures) != 2 || !strings.Contains(failures[0], "notification team (slack)") || !strings.Contains(failures[0], "SLUICE_TEST_NOTIFY_UNSET") {
		t.Errorf("console failure lines %q, want one per trigger for the slack notifier", failures)
	}
}
