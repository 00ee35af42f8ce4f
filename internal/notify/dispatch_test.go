package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// dispatchFixture is a SQLite store holding the environment of dispatchEnv, its
// notifiers pointed at the receivers and mailer, and a running execution in it; env
// holds the secrets the environment refers to.
func dispatchFixture(t *testing.T, mailer *smtpServer, rs map[string]*receiver) (*sqlite.Store, map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	urls := map[string]string{}
	for name, r := range rs {
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	env := map[string]string{"TEST_SLACK_URL": urls["slack"] + "/services/T1/B1/slacksecretpath",
		"TEST_HOOK_SECRET": "hooksecret", "TEST_BROKEN_URL": urls["broken"] + "/services/T1/B2/brokensecretpath"}
	src := fmt.Sprintf(dispatchEnv, urls["hook"], mailer.port())
	if _, _, err := st.PutDefinition(ctx, store.Definition{Kind: store.KindEnvironment, Name: "prod", Source: src, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	state := `{"phases":[{"name":"canary","steps":[{"key":"p1.s1","type":"traffic"},{"key":"p1.s2","type":"verify"},{"key":"p1.s3","type":"approval"}]}]}`
	ex := &store.Execution{ID: "x1", Workflow: "shop", WorkflowVersion: 1, Environment: "prod", EnvironmentVersion: 1,
		Service: "shop", StartedBy: "alice", CreatedAt: t0, UpdatedAt: t0, Status: store.StatusRunning, State: json.RawMessage(state)}
	if err := st.Commit(ctx, &store.Commit{Execution: ex, Create: true}); err != nil {
		t.Fatal(err)
	}
	return st, env
}

// receiver records what an HTTP notifier target received, failing the first
// `failures` requests with 503.
type receiver struct {
	mu       sync.Mutex
	failures int
	bodies   []string
	headers  []http.Header
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.bodies, r.headers = append(r.bodies, string(b)), append(r.headers, req.Header.Clone())
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

const dispatchEnv = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform: {type: recorder, recorder: {file: e.jsonl}}
  router: {type: recorder, recorder: {file: e.jsonl}}
  notifications:
    baseURL: https://sluice.example.com
    notifiers:
      - {name: team, type: slack, slack: {url: {env: TEST_SLACK_URL}}}
      - {name: audit, type: webhook, on: [approval, rolled_back], webhook: {url: "%s", secret: {env: TEST_HOOK_SECRET}}}
      - {name: oncall, type: email, on: [verification_failed, rolled_back], email: {host: 127.0.0.1, port: %d, tls: none, from: sluice@example.com, to: [oncall@example.com]}}
      - {name: broken, type: slack, on: [rolled_back], slack: {url: {env: TEST_BROKEN_URL}}}
`

// TestDispatcher feeds the events of a release that fails verification and is
// rolled back, and checks who heard what: Slack everything, the webhook the
// approval (after two refused tries) and the rollback, email the failure and the
// rollback; a notifier whose endpoint refuses is on the console without its URL.
func TestDispatcher(t *testing.T) {
	ctx := context.Background()
	slack, hook, broken := &receiver{}, &receiver{failures: 2}, &receiver{failures: 1000}
	mailer := startSMTP(t)
	st, env := dispatchFixture(t, mailer, map[string]*receiver{"slack": slack, "hook": hook, "broken": broken})
	red := &secrets.Redactor{}
	var published []store.Event
	var pubMu sync.Mutex
	d := New(Options{Store: st, Backoff: 10 * time.Millisecond, Timeout: 2 * time.Second, Redact: red.String,
		Resolve: func(ctx context.Context, envName string, e *spec.Environment, ref spec.SecretRef) (string, error) {
			if envName != "prod" || e == nil || e.Metadata.Name != "prod" {
				return "", fmt.Errorf("resolve for environment %q (%v), want prod", envName, e != nil)
			}
			return (&secrets.Resolver{Getenv: func(k string) string { return env[k] }, Redactor: red}).Resolve(ctx, ref)
		},
		Console: func(evs ...store.Event) { pubMu.Lock(); published = append(published, evs...); pubMu.Unlock() }})
	ev := func(typ, step, data string) store.Event {
		return store.Event{ExecutionID: "x1", At: t0, Type: typ, Step: step, Data: json.RawMessage(data)}
	}
	d.Publish(
		ev("status", "", `{"status":"running","from":"pending"}`),
		ev("console", "", ``),
		ev("step", "p1.s1", `{"status":"failed","message":"not a verification"}`),
		ev("status", "", `{"status":"waiting","from":"running","reason":"waiting for approval of p1.s3"}`),
		ev("step", "p1.s2", `{"status":"failed","message":"error-rate: 3 of 3 measurements failed"}`),
		ev("status", "", `{"status":"rolled_back","from":"rolling_back","reason":"verify-metrics failed"}`),
	)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d.Close(cctx)

	if n := slack.count(); n != 4 {
		t.Errorf("slack received %d messages, want 4 (started, approval, verification_failed, rolled_back): %q", n, slack.bodies)
	}
	if n := hook.count(); n != 2 {
		t.Fatalf("webhook received %d messages, want 2 after retries: %q", n, hook.bodies)
	}
	for i, b := range hook.bodies {
		h := hook.headers[i]
		if err := Verify("hooksecret", h.Get(HeaderTimestamp), h.Get(HeaderSignature), []byte(b), time.Now(), time.Minute); err != nil {
			t.Errorf("webhook %d: %v", i, err)
		}
	}
	if all := strings.Join(hook.bodies, "\n"); !strings.Contains(all, `"approveUrl":"https://sluice.example.com/executions/x1?action=approve"`) ||
		!strings.Contains(all, `"trigger":"rolled_back"`) {
		t.Errorf("webhook bodies: %s", all)
	}
	mails := mailer.received()
	var subjects []string
	for _, m := range mails {
		subjects = append(subjects, strings.SplitN(strings.SplitN(m.data, "Subject: ", 2)[1], "\n", 2)[0])
	}
	slices.Sort(subjects)
	if want := []string{"[sluice] shop v1 in prod: rolled back", "[sluice] shop v1 in prod: verification failed"}; !slices.Equal(subjects, want) {
		t.Errorf("mail subjects %q, want %q", subjects, want)
	}
	stored, err := st.Events(ctx, "x1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || len(published) != 1 || stored[0].Seq != published[0].Seq {
		t.Fatalf("console: stored %+v, published %+v; want the one failure", stored, published)
	}
	line := stored[0].Message
	if !strings.Contains(line, "notification broken (slack)") || !strings.Contains(line, "503") ||
		strings.Contains(line, "brokensecretpath") || stored[0].Level != "warn" {
		t.Errorf("console line %q", line)
	}
}

// TestPublishNeverBlocks fills the queue of a dispatcher whose notifier hangs.
func TestPublishNeverBlocks(t *testing.T) {
	d := New(Options{Store: nilStore{}, Queue: 1, Workers: 1})
	done := make(chan struct{})
	go func() {
		for range 1000 {
			d.Publish(store.Event{ExecutionID: "x", Type: "status", Data: json.RawMessage(`{"status":"succeeded"}`)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.Close(ctx)
	d.Publish(store.Event{Type: "status"}) // after Close: ignored, no panic
}

// nilStore knows no execution.
type nilStore struct{}

func (nilStore) GetExecution(ctx context.Context, id string) (store.Execution, error) {
	return store.Execution{}, store.ErrNotFound
}

func (nilStore) GetDefinition(ctx context.Context, k store.Kind, n string, v int64) (store.Definition, error) {
	return store.Definition{}, store.ErrNotFound
}

func (nilStore) Commit(ctx context.Context, c *store.Commit) error { return nil }
