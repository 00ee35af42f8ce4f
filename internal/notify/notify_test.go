package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

var t0 = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

func sample(trigger string) Message {
	m := Message{Trigger: trigger, ExecutionID: "x1y2z3", Workflow: "shop", WorkflowVersion: 3, Environment: "prod",
		Service: "shop", Status: "waiting", Reason: "waiting for approval of approve-promotion <now> & then",
		StartedBy: "alice", At: t0}
	m.links("https://sluice.example.com/")
	return m
}

func TestTriggerOf(t *testing.T) {
	ev := func(typ, step, data string) store.Event {
		return store.Event{Type: typ, Step: step, Data: json.RawMessage(data)}
	}
	for _, tc := range []struct {
		name         string
		e            store.Event
		trigger, why string
	}{
		{"started", ev("status", "", `{"status":"running","from":"pending"}`), spec.TriggerStarted, ""},
		{"resumed is no start", ev("status", "", `{"status":"running","from":"paused"}`), "", ""},
		{"after approval is no start", ev("status", "", `{"status":"running","from":"waiting"}`), "", ""},
		{"approval", ev("status", "", `{"status":"waiting","from":"running","reason":"waiting for approval of a"}`), spec.TriggerApproval, "waiting for approval of a"},
		{"rolled back", ev("status", "", `{"status":"rolled_back","from":"rolling_back","reason":"p99 too high"}`), spec.TriggerRolledBack, "p99 too high"},
		{"succeeded", ev("status", "", `{"status":"succeeded","from":"running"}`), spec.TriggerSucceeded, ""},
		{"failed step", ev("step", "p2.s3", `{"status":"failed","message":"error-rate failed"}`), spec.TriggerVerificationFailed, "error-rate failed"},
		{"step started", ev("step", "p2.s3", `{"status":"running"}`), "", ""},
		{"no data", ev("status", "", ``), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, why := triggerOf(tc.e)
			if got != tc.trigger || why != tc.why {
				t.Fatalf("triggerOf = %q, %q; want %q, %q", got, why, tc.trigger, tc.why)
			}
		})
	}
}

func TestWebhookSignature(t *testing.T) {
	var got struct {
		hd   http.Header
		body []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.hd, got.body = r.Header.Clone(), must(io.ReadAll(r.Body))
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: "s3cret", Now: func() time.Time { return t0 }}
	if err := w.Notify(context.Background(), sample(spec.TriggerApproval)); err != nil {
		t.Fatal(err)
	}
	ts, sig := got.hd.Get(HeaderTimestamp), got.hd.Get(HeaderSignature)
	var m Message
	if err := json.Unmarshal(got.body, &m); err != nil || m.ApproveURL != "https://sluice.example.com/executions/x1y2z3?action=approve" {
		t.Fatalf("body %s (%v)", got.body, err)
	}
	if got.hd.Get(HeaderEvent) != "approval" || got.hd.Get(HeaderDelivery) == "" {
		t.Fatalf("headers %v", got.hd)
	}
	for _, tc := range []struct {
		name, secret, ts string
		body             []byte
		now              time.Time
		ok               bool
	}{
		{"valid", "s3cret", ts, got.body, t0.Add(time.Minute), true},
		{"wrong secret", "guess", ts, got.body, t0, false},
		{"tampered body", "s3cret", ts, bytes.Replace(got.body, []byte("prod"), []byte("dev!"), 1), t0, false},
		{"replayed later", "s3cret", ts, got.body, t0.Add(10 * time.Minute), false},
		{"timestamp moved", "s3cret", "1795000000", got.body, time.Unix(1795000000, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.ts, sig, tc.body, tc.now, 5*time.Minute)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadSignature)) {
				t.Fatalf("Verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestPostAnswers(t *testing.T) {
	for _, tc := range []struct {
		code      int
		ok, final bool
	}{{200, true, false}, {204, true, false}, {400, false, true}, {404, false, true}, {429, false, false}, {500, false, false}, {503, false, false}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.code)
			io.WriteString(w, "no_service")
		}))
		err := (&Slack{URL: srv.URL + "/services/T000/B000/XXXX"}).Notify(context.Background(), sample(spec.TriggerStarted))
		srv.Close()
		if (err == nil) != tc.ok || errors.Is(err, ErrPermanent) != tc.final {
			t.Errorf("HTTP %d: %v, want ok=%v permanent=%v", tc.code, err, tc.ok, tc.final)
		}
		if err != nil && strings.Contains(err.Error(), "XXXX") {
			t.Errorf("HTTP %d: the error names the webhook URL: %v", tc.code, err)
		}
	}
}

// TestSlackPayload keeps the Block Kit message in a golden file: escaped text,
// approve/reject buttons to the UI's approval dialog, and the execution link.
func TestSlackPayload(t *testing.T) {
	b, err := json.MarshalIndent(slackPayload(sample(spec.TriggerApproval)), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "slack-approval.golden.json"), append(b, '\n'))
}

func TestEmail(t *testing.T) {
	srv := startSMTP(t)
	e := &Email{Host: "127.0.0.1", Port: srv.port(), TLS: "none", From: "sluice@example.com",
		To: []string{"ops@example.com", "lead@example.com"}, Username: "sluice", Password: "pw", Now: func() time.Time { return t0 }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := sample(spec.TriggerApproval)
	m.Reason = "naïve .dot line\n.\nstill the body"
	if err := e.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 || got[0].from != "sluice@example.com" || strings.Join(got[0].to, ",") != "ops@example.com,lead@example.com" || got[0].auth != "sluice:pw" {
		t.Fatalf("received %+v", got)
	}
	head, body, _ := strings.Cut(got[0].data, "\n\n")
	if !strings.Contains(head, "Subject: [sluice] shop v3 in prod: waiting for approval") || !strings.Contains(head, "Content-Transfer-Encoding: quoted-printable") {
		t.Fatalf("headers:\n%s", head)
	}
	text := string(must(io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))))
	for _, want := range []string{"naïve .dot line\n.\nstill the body", "Approve: https://sluice.example.com/executions/x1y2z3?action=approve"} {
		if !strings.Contains(strings.ReplaceAll(text, "\r\n", "\n"), want) {
			t.Errorf("body lacks %q:\n%s", want, text)
		}
	}

	srv.reject = "lead@example.com"
	if err := e.Notify(ctx, m); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("a refused recipient: %v", err)
	}
	e.TLS = "starttls"
	if err := e.Notify(ctx, m); !errors.Is(err, ErrPermanent) {
		t.Fatalf("STARTTLS required from a server without it: %v, want a permanent failure", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
