package victorialogs_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
	"github.com/sluicehq/sluice/internal/verify/victorialogs"
)

// base is where the test's log lines start; they cover one minute.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// binary finds victoria-logs ($SLUICE_TEST_VICTORIALOGS_BIN or $PATH), or skips
// (fails under CI=true).
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("SLUICE_TEST_VICTORIALOGS_BIN"); b != "" {
		return b
	}
	if b, err := exec.LookPath("victoria-logs"); err == nil {
		return b
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("victoria-logs not found; eval \"$(scripts/victorialogs.sh)\" builds it from its Go module")
	}
	t.Skip("victoria-logs not found: eval \"$(scripts/victorialogs.sh)\" builds it from its Go module")
	return ""
}

// logLines are the test's lines: each second of the minute a request line per
// slot; errors both slots share ("cache miss", every 20 s) and one only blue has
// ("db timeout", every 10 s).
func logLines() string {
	var b strings.Builder
	line := func(at time.Time, slot, level, msg string) {
		fmt.Fprintf(&b, `{"_time":%q,"_msg":%q,"app":"shop","slot":%q,"level":%q}`+"\n", at.Format(time.RFC3339Nano), msg, slot, level)
	}
	for s := range 60 {
		at := base.Add(time.Duration(s) * time.Second)
		for _, slot := range []string{"blue", "green"} {
			line(at, slot, "info", fmt.Sprintf("GET /cart 200 in %dms", 10+s%7))
			if s%20 == 0 {
				line(at.Add(time.Millisecond), slot, "error", fmt.Sprintf(`level=error msg="cache miss" key=%d`, s))
			}
		}
		if s%10 == 0 {
			line(at.Add(2*time.Millisecond), "blue", "error", fmt.Sprintf(`level=error msg="db timeout" id=%d`, 1000+s))
		}
	}
	return b.String()
}

// start runs a VictoriaLogs of the test's own holding logLines, and returns its URL.
func start(t *testing.T) string {
	bin := binary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "-storageDataPath="+filepath.Join(dir, "data"), "-httpListenAddr="+addr,
		"-retentionPeriod=100y", "-loggerLevel=ERROR")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start victoria-logs: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	u := "http://" + addr
	waitHTTP(t, u+"/health")
	resp, err := http.Post(u+"/insert/jsonline?_stream_fields=app,slot", "application/stream+json", strings.NewReader(logLines()))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	waitHTTP(t, u+"/internal/force_flush")
	return u
}

func waitHTTP(t *testing.T, u string) {
	for range 100 {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within 10 s", u)
}

func newProvider(t *testing.T, url string) *victorialogs.Provider {
	t.Helper()
	p, err := victorialogs.New(context.Background(), spec.ProviderSpec{Name: "logs", Type: "victorialogs", URL: url}, verify.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func minute(text string, logs, sample bool) verify.Query {
	return verify.Query{Text: text, Service: "shop", Slot: "blue", End: base.Add(time.Minute), Window: time.Minute, Logs: logs, Sample: sample}
}

func TestConformance(t *testing.T) {
	u := start(t)
	verifytest.Run(t, verifytest.Fixture{
		Provider: newProvider(t, u),
		Known: []verifytest.Case{
			{Name: "error lines of blue", Query: minute(`app:=shop slot:=blue level:=error`, true, false), Want: 9},
			{Name: "stats count of green", Query: minute(`app:=shop slot:=green | stats count() as n`, false, false), Want: 63},
			{Name: "stats sample of blue", Query: minute(`app:=shop slot:=blue | stats count() as n`, false, true), Want: math.NaN(), MinPoints: 5},
		},
		NoData:      minute(`app:=nobody | stats avg(x) as n`, false, false),
		Invalid:     minute(`app:=shop |||`, false, false),
		Unreachable: newProvider(t, "http://127.0.0.1:1"),
	})
}

func TestBadAnswers(t *testing.T) {
	verifytest.RunBadAnswers(t, func(url string) verify.Provider { return newProvider(t, url) },
		minute(`app:=shop | stats count() as n`, false, false), time.Second)
	t.Run("log line without _msg", func(t *testing.T) {
		srv := fakeServer(t, `{"_time":"2026-01-01T00:00:00Z"}`+"\n")
		_, err := newProvider(t, srv).Query(context.Background(), minute("*", true, false))
		if err == nil || !strings.Contains(err.Error(), "_msg") {
			t.Fatalf("got %v, want an error about _msg", err)
		}
	})
}

func fakeServer(t *testing.T, body string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestLinesAndLimit(t *testing.T) {
	u := start(t)
	p := newProvider(t, u)
	r, err := p.Query(context.Background(), minute(`app:=shop slot:=green level:=error`, true, false))
	if err != nil || r.Value != 3 || len(r.Lines) != 3 || !strings.Contains(r.Lines[0], "cache miss") {
		t.Fatalf("got %+v, %v; want 3 cache-miss lines", r, err)
	}
	none, err := p.Query(context.Background(), minute(`app:=shop "no such words"`, true, false))
	if err != nil || none.Value != 0 {
		t.Fatalf("no matching line: got %+v, %v; want 0, not no data", none, err)
	}
	few, err := victorialogs.New(context.Background(), spec.ProviderSpec{URL: u, Settings: map[string]string{"maxLines": "5"}}, verify.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	r, err = few.Query(context.Background(), minute(`app:=shop slot:=blue`, true, false))
	if err != nil || r.Value != 5 || len(r.Warnings) != 1 {
		t.Fatalf("maxLines 5: got value %v warnings %v, %v", r.Value, r.Warnings, err)
	}
}

type oneSource struct{ p verify.Provider }

func (o oneSource) Provider(ctx context.Context, envName string, env *spec.Environment, name string) (verify.Provider, error) {
	return o.p, nil
}

// TestLogJudgeOnRealLogs runs verify steps with log checks against the real
// store: the compare judge fails blue for its "db timeout" errors, which green
// does not have, and passes it for the "cache miss" errors both have.
func TestLogJudgeOnRealLogs(t *testing.T) {
	u := start(t)
	tests := []struct {
		name  string
		check spec.LogCheck
		want  verify.Verdict
		says  string
	}{
		{"compare: an error new in the canary fails", spec.LogCheck{Judge: "compare", Query: `app:={{service}} slot:={{slot}} level:=error`},
			verify.Failed, `6× in canary, new: level=error msg=<str> id=<num>`},
		{"compare: errors the baseline has too pass", spec.LogCheck{Judge: "compare", Query: `app:={{service}} slot:={{slot}} level:=error -"db timeout"`},
			verify.Successful, "no error template"},
		{"count: 9 error lines within maxMatches 10", spec.LogCheck{MaxMatches: 10, Query: `app:={{service}} slot:={{slot}} level:=error`},
			verify.Successful, "9 on blue — limit 10 — passed (window 60s)"},
		{"count: beyond maxMatches 5", spec.LogCheck{MaxMatches: 5, Query: `app:={{service}} slot:={{slot}} level:=error`},
			verify.Failed, `6× "level=error msg=\"db timeout\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check.Name, tt.check.Provider = "errors", "logs"
			vs := &spec.VerifyStep{Interval: spec.Duration(time.Minute), Count: 1, Logs: []spec.LogCheck{tt.check}}
			io := verifytest.NewIO(true, base)
			s := verify.NewStep(oneSource{newProvider(t, u)}, verify.WithClock(io.Now))
			err := s.Analyse(context.Background(), verify.Job{Verify: vs, Service: "shop", Canary: "blue", Baseline: "green", Started: base}, io)
			var ve *verify.VerdictError
			switch {
			case tt.want == verify.Successful && err != nil:
				t.Fatalf("unexpected error: %v\n%s", err, io.Text())
			case tt.want != verify.Successful && (!errors.As(err, &ve) || ve.Verdict != tt.want):
				t.Fatalf("got %v, want %s\n%s", err, tt.want, io.Text())
			}
			if !strings.Contains(io.Text(), tt.says) {
				t.Fatalf("console does not say %q:\n%s", tt.says, io.Text())
			}
		})
	}
}

// TestRateLimits checks that 429 and 503 answers are retried when the answer
// says, within the query's time.
func TestRateLimits(t *testing.T) {
	good := fakeServer(t, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700001800,"7"]}]}}`)
	verifytest.RunRateLimits(t, func(url string) verify.Provider { return newProvider(t, url) }, good,
		minute(`app:=shop | stats count() as n`, false, false))
}
