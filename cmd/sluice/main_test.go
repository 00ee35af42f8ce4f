package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// engineSpy is a recording stand-in for the engine. Start stores the execution and,
// when script is set, runs it in the background.
type engineSpy struct {
	mu     sync.Mutex
	calls  []string
	err    error
	store  store.Store
	script func(ex store.Execution)
}

func (s *engineSpy) record(format string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
	return s.err
}

func (s *engineSpy) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		return ""
	}
	return s.calls[len(s.calls)-1]
}

func (s *engineSpy) Start(ctx context.Context, r engine.StartRequest) (store.Execution, error) {
	if err := s.record("start %s v%d %v by %s", r.Workflow, r.Version, r.Variables, r.StartedBy); err != nil {
		return store.Execution{}, err
	}
	ex := store.Execution{ID: "ex-1", Workflow: r.Workflow, WorkflowVersion: 1, Environment: "staging",
		Service: "checkout", Variables: r.Variables, StartedBy: r.StartedBy, Status: store.StatusRunning,
		CreatedAt: testNow, UpdatedAt: testNow, State: json.RawMessage(`{"phase":2}`)}
	if err := s.store.Commit(ctx, &store.Commit{Execution: &ex, Create: true}); err != nil {
		return ex, err
	}
	if s.script != nil {
		go s.script(ex)
	}
	return ex, nil
}
func (s *engineSpy) Decide(ctx context.Context, id string, d engine.Decision) error {
	return s.record("decide %s %v by %s: %s", id, d.Approve, d.By, d.Comment)
}
func (s *engineSpy) Rollback(ctx context.Context, id, by, reason string) error {
	return s.record("rollback %s by %s: %s", id, by, reason)
}
func (s *engineSpy) Abort(ctx context.Context, id, by, reason string) error {
	return s.record("abort %s by %s: %s", id, by, reason)
}
func (s *engineSpy) Pause(ctx context.Context, id, by string) error {
	return s.record("pause %s by %s", id, by)
}
func (s *engineSpy) Resume(ctx context.Context, id, by string) error {
	return s.record("resume %s by %s", id, by)
}
func (s *engineSpy) Retry(ctx context.Context, id, by string) error {
	return s.record("retry %s by %s", id, by)
}

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type cli struct {
	t      *testing.T
	url    string
	spy    *engineSpy
	store  store.Store
	broker *events.Broker
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, store: st, spy: &engineSpy{store: st}}
	c.broker = events.New(st, events.WithPollInterval(0))
	srv := httptest.NewServer(api.New(api.Deps{Store: st, Engine: c.spy, Broker: c.broker,
		Now: func() time.Time { return testNow }, StatusPoll: 20 * time.Millisecond,
		CheckSettings: envrun.Builtin().CheckDocuments})) // as the server does
	t.Cleanup(func() {
		srv.Close()
		_ = st.Close()
	})
	c.url = srv.URL
	return c
}

// sluice runs the CLI in-process and returns its exit status, stdout and stderr.
func (c *cli) sluice(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"SLUICE_SERVER": c.url, "SLUICE_USER": "alice"}
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		files    []string
		wantCode int
	}{
		{"mistakes", []string{"testdata/mistakes.yaml"}, 1},
		{"valid", []string{"testdata/checkout.yaml"}, 0},
		{"kubernetes mistakes", []string{"testdata/kube-mistakes.yaml", "testdata/kube-unreachable.yaml"}, 1},
		{"missing file", []string{"testdata/nope.yaml"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"validate"}, tt.files...), nil, &out, &errb, func(string) string { return "" })
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, errb.String())
			}
			golden.Check(t, filepath.Join("testdata", "validate-"+tt.name+".golden"), []byte(out.String()+"--- stderr\n"+errb.String()))
		})
	}
}

func TestCommands(t *testing.T) {
	c := newCLI(t)
	src, err := os.ReadFile("testdata/checkout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.seedServices()
	steps := []struct {
		name, stdin string
		args        []string
		wantCode    int
		wantOut     []string // substrings of stdout
		wantErr     []string // substrings of stderr
		wantEngine  string
	}{
		{name: "apply file", args: []string{"apply", "-f", "testdata/checkout.yaml"},
			wantOut: []string{"Environment staging created (version 1)", "Workflow checkout created (version 1)"}},
		{name: "apply stdin dry run", stdin: string(src), args: []string{"apply", "-f", "-", "--dry-run"},
			wantOut: []string{"Workflow checkout unchanged (version 1) (dry run)"}},
		{name: "apply invalid", args: []string{"apply", "-f", "testdata/mistakes.yaml"}, wantCode: 1,
			wantErr: []string{"error: 5 problems", "testdata/mistakes.yaml:7:3: unknown field \"colour\"", "testdata/mistakes.yaml:20:21: percentage 120"}},
		{name: "get workflows", args: []string{"get", "workflows"},
			wantOut: []string{"NAME      VERSION  UPDATED  BY", "checkout  1", "alice"}},
		{name: "get environments json", args: []string{"get", "environments", "-o", "json"},
			wantOut: []string{`"name": "staging"`, `"createdBy": "alice"`}},
		{name: "get workflows yaml", args: []string{"get", "workflows", "-o", "yaml"},
			wantOut: []string{"items:\n    - kind: workflow\n      name: checkout\n      version: 1"}},
		{name: "describe workflow", args: []string{"describe", "workflow", "checkout"},
			wantOut: []string{"Name:     checkout", "Variables:", "version string (required)", "Phases:", "2. canary"}},
		{name: "history", args: []string{"history", "workflow", "checkout"}, wantOut: []string{"VERSION", "1 "}},
		{name: "run", args: []string{"run", "checkout", "--set", "version=v2", "--set", "note=a=b"},
			wantOut: []string{"ex-1"}, wantErr: []string{"execution ex-1 started"}, wantEngine: "start checkout v0 map[note:a=b version:v2] by alice"},
		{name: "run bad set", args: []string{"run", "checkout", "--set", "version"}, wantCode: 1,
			wantErr: []string{`error: --set "version": want name=value`}},
		{name: "get executions", args: []string{"get", "executions"}, wantOut: []string{"ex-1  checkout@1  staging", "running"}},
		{name: "get services", args: []string{"get", "services", "--environment", "staging"}, wantOut: []string{"staging      checkout  green"}},
		{name: "describe execution", args: []string{"describe", "execution", "ex-1"},
			wantOut: []string{"Status:      running", "version=v2", "State:", `"phase": 2`}},
		{name: "report", args: []string{"report", "ex-1"},
			wantOut: []string{"# Release report: checkout v", "| Started by | alice at ", "| Variables | note=a=b, version=v2 |", "## Verdicts", "No verification ran."}},
		{name: "report json", args: []string{"report", "ex-1", "-o", "json"}, wantOut: []string{`"id": "ex-1"`, `"startedBy": "alice"`}},
		{name: "report of an unknown execution", args: []string{"report", "ex-404"}, wantCode: 1, wantErr: []string{`execution "ex-404" not found`}},
		{name: "describe missing", args: []string{"describe", "execution", "nope"}, wantCode: 1,
			wantErr: []string{`error: execution "nope" not found`}},
		{name: "approve", args: []string{"approve", "ex-1", "--comment", "ship it"},
			wantOut: []string{"execution ex-1: approve accepted"}, wantEngine: "decide ex-1 true by alice: ship it"},
		{name: "reject", args: []string{"reject", "ex-1", "--comment", "no"}, wantEngine: "decide ex-1 false by alice: no"},
		{name: "rollback", args: []string{"rollback", "ex-1", "--reason", "errors"}, wantEngine: "rollback ex-1 by alice: errors"},
		{name: "abort", args: []string{"abort", "ex-1"}, wantEngine: "abort ex-1 by alice: "},
		{name: "pause", args: []string{"--user", "bob", "pause", "ex-1"}, wantEngine: "pause ex-1 by bob"},
		{name: "resume", args: []string{"resume", "ex-1"}, wantEngine: "resume ex-1 by alice"},
		{name: "retry", args: []string{"retry", "ex-1"}, wantEngine: "retry ex-1 by alice"},
		{name: "bad output", args: []string{"get", "workflows", "-o", "xml"}, wantCode: 1, wantErr: []string{`-o "xml"`}},
		{name: "unknown resource", args: []string{"get", "gadgets"}, wantCode: 1, wantErr: []string{"unknown resource"}},
		{name: "delete", args: []string{"delete", "environment", "staging"}, wantOut: []string{"environment staging deleted"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errs := c.sluice(s.stdin, s.args...)
			if code != s.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, s.wantCode, out, errs)
			}
			for _, w := range s.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range s.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if s.wantEngine != "" && c.spy.last() != s.wantEngine {
				t.Errorf("engine got %q, want %q", c.spy.last(), s.wantEngine)
			}
		})
	}
	t.Run("engine refusal", func(t *testing.T) {
		c.spy.err = fmt.Errorf("execution ex-1 is not waiting for an approval: %w", engine.ErrInvalidState)
		defer func() { c.spy.err = nil }()
		code, _, errs := c.sluice("", "approve", "ex-1")
		if code != 1 || !strings.Contains(errs, "error: execution ex-1 is not waiting for an approval") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

func (c *cli) seedServices() {
	ex := store.Execution{ID: "ex-0", Workflow: "checkout", Status: store.StatusSucceeded, CreatedAt: testNow, UpdatedAt: testNow}
	err := c.store.Commit(context.Background(), &store.Commit{Execution: &ex, Create: true,
		Service: &store.ServiceState{Environment: "staging", Service: "checkout", LiveSlot: "green", Artifact: "./checkout v1",
			Instances: 3, ExecutionID: "ex-0", UpdatedAt: testNow}})
	if err != nil {
		c.t.Fatal(err)
	}
}

// script plays an execution: console lines, then a terminal status.
func (c *cli) script(final store.Status, lines ...string) func(store.Execution) {
	return func(ex store.Execution) {
		for i, l := range lines {
			cm := &store.Commit{ExecutionID: ex.ID, Events: []store.Event{{ExecutionID: ex.ID, At: testNow.Add(time.Duration(i) * time.Second),
				Type: "console", Step: "canary/traffic", Level: "info", Message: l}}}
			if err := c.store.Commit(context.Background(), cm); err != nil {
				c.t.Error(err)
				return
			}
			c.broker.Publish(cm.Events...)
		}
		ex.Status, ex.Reason = final, "reason for "+string(final)
		cm := &store.Commit{Execution: &ex, Events: []store.Event{{ExecutionID: ex.ID, At: testNow.Add(time.Minute),
			Type: "status", Level: "warn", Message: "execution " + string(final)}}}
		if err := c.store.Commit(context.Background(), cm); err != nil {
			c.t.Error(err)
			return
		}
		c.broker.Publish(cm.Events...)
	}
}

func TestRunFollowAndLogs(t *testing.T) {
	tests := []struct {
		name     string
		final    store.Status
		wantCode int
		wantErr  string
	}{
		{"succeeded", store.StatusSucceeded, 0, "execution ex-1 succeeded"},
		{"rolled back", store.StatusRolledBack, 1, "error: execution ex-1 rolled_back: reason for rolled_back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.spy.script = c.script(tt.final, "setting weights green=90 blue=10", "waiting for 3/3 instances ready")
			code, out, errs := c.sluice("", "run", "checkout", "--set", "version=v2", "--follow")
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, errs)
			}
			clock := func(d time.Duration) string { return testNow.Add(d).Local().Format("15:04:05") }
			want := fmt.Sprintf("%s [canary/traffic] setting weights green=90 blue=10\n%s [canary/traffic] waiting for 3/3 instances ready\n%s WARN: execution %s\n",
				clock(0), clock(time.Second), clock(time.Minute), tt.final)
			if out != want {
				t.Fatalf("console:\n%s\nwant:\n%s", out, want)
			}
			code, logs, errs := c.sluice("", "logs", "ex-1")
			if code != 0 || logs != want {
				t.Fatalf("logs exit %d: %s\n%s", code, logs, errs)
			}
			code, logs, _ = c.sluice("", "logs", "-f", "ex-1")
			if logs != want {
				t.Fatalf("logs -f exit %d: %s", code, logs)
			}
		})
	}
}
