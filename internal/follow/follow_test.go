package follow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/store"
)

var t0 = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func tp(d time.Duration) *time.Time { t := at(d); return &t }

// execution is the record of the seed workflow with st as its state.
func execution(status store.Status, st engine.State) api.Execution {
	b, _ := json.Marshal(st)
	return api.Execution{ID: "x1y2z3", Workflow: "shop", WorkflowVersion: 3, Environment: "prod",
		Service: "shop", Status: status, State: b}
}

func seedState() engine.State {
	step := func(key, name, typ string) engine.StepState {
		return engine.StepState{Key: key, Name: name, Type: typ, Status: store.StatusPending}
	}
	return engine.State{LiveSlot: "green", NewSlot: "blue", Phases: []engine.PhaseState{
		{Name: "setup-blue", Status: store.StatusPending, Steps: []engine.StepState{
			step("p1.s1", "upgrade-containers", "deploy"), step("p1.s2", "settle", "wait")}},
		{Name: "canary", Status: store.StatusPending, Steps: []engine.StepState{
			step("p2.s1", "shift-canary", "traffic"), step("p2.s2", "loadtest", "loadtest"),
			step("p2.s3", "verify-metrics", "verify"), step("p2.s4", "approve-promotion", "approval")}},
	}}
}

func ev(d time.Duration, typ events.Type, step, msg string, data any) api.Event {
	b, _ := json.Marshal(data)
	return api.Event{ExecutionID: "x1y2z3", At: at(d), Type: typ, Step: step, Level: "info", Message: msg, Data: b}
}

// frame is a moment of a followed execution: events that arrived, an optional new
// execution record, and the time the tree is drawn at.
type frame struct {
	name   string
	events []api.Event
	record func(*engine.State) store.Status
	now    time.Duration
}

var frames = []frame{
	{name: "started", now: 0, events: []api.Event{
		ev(0, "status", "", "execution running", map[string]string{"status": "running", "from": "pending"}),
		ev(0, "step", "p1.s1", "▶ upgrade-containers (deploy)", map[string]any{"status": "running"})}},
	{name: "settle waits 30s, 12s in", now: 12500 * time.Millisecond, events: []api.Event{
		ev(1200*time.Millisecond, "step", "p1.s1", "upgrade-containers succeeded in 1.2s", map[string]any{"status": "succeeded"}),
		ev(1200*time.Millisecond, "step", "p1.s2", "▶ settle (wait)", map[string]any{"status": "running"})},
		record: func(st *engine.State) store.Status {
			st.Phases[0].Status = store.StatusRunning
			st.Phases[0].Steps[0].Status, st.Phases[0].Steps[0].StartedAt, st.Phases[0].Steps[0].FinishedAt = store.StatusSucceeded, tp(0), tp(1200*time.Millisecond)
			st.Phases[0].Steps[1].Status, st.Phases[0].Steps[1].StartedAt, st.Phases[0].Steps[1].Deadline = store.StatusRunning, tp(1200*time.Millisecond), tp(31200*time.Millisecond)
			return store.StatusRunning
		}},
	{name: "canary at 10% with a load test running", now: 45 * time.Second, events: []api.Event{
		ev(31200*time.Millisecond, "step", "p1.s2", "settle succeeded in 30s", map[string]any{"status": "succeeded"}),
		ev(31300*time.Millisecond, "step", "p2.s1", "▶ shift-canary (traffic)", map[string]any{"status": "running"}),
		ev(31310*time.Millisecond, "weights", "p2.s1", "router reads back green=90 blue=10", map[string]int{"green": 90, "blue": 10}),
		ev(31320*time.Millisecond, "step", "p2.s1", "shift-canary succeeded in 20ms", map[string]any{"status": "succeeded"}),
		ev(31330*time.Millisecond, "step", "p2.s2", "▶ loadtest (loadtest)", map[string]any{"status": "running"}),
		ev(41330*time.Millisecond, "loadtest", "p2.s2", "loadtest blue: 10s, 2,000 requests, 0.1% errors, p99 41ms", map[string]any{"elapsedSeconds": 10})}},
	{name: "verification then approval waiting", now: 120 * time.Second, events: []api.Event{
		ev(61330*time.Millisecond, "step", "p2.s2", "loadtest succeeded in 30s", map[string]any{"status": "succeeded"}),
		ev(61400*time.Millisecond, "step", "p2.s3", "▶ verify-metrics (verify)", map[string]any{"status": "running"}),
		ev(91400*time.Millisecond, "measurement", "p2.s3", "error-rate #1: Successful (0.2% <= 1%)", map[string]any{}),
		ev(100*time.Second, "step", "p2.s3", "verify-metrics succeeded in 38.6s", map[string]any{"status": "succeeded"}),
		ev(100*time.Second, "step", "p2.s4", "▶ approve-promotion (approval)", map[string]any{"status": "running"}),
		ev(100*time.Second, "status", "", "execution waiting", map[string]string{"status": "waiting", "from": "running", "reason": "waiting for approval of approve-promotion"})},
		record: func(st *engine.State) store.Status {
			st.Phases[0].Status, st.Phases[1].Status = store.StatusSucceeded, store.StatusRunning
			st.Phases[0].Steps[1].Status, st.Phases[0].Steps[1].FinishedAt = store.StatusSucceeded, tp(31200*time.Millisecond)
			for i, d := range [][2]time.Duration{{31300, 31320}, {31330, 61330}, {61400, 100000}} {
				s := &st.Phases[1].Steps[i]
				s.Status, s.StartedAt, s.FinishedAt = store.StatusSucceeded, tp(d[0]*time.Millisecond), tp(d[1]*time.Millisecond)
			}
			a := &st.Phases[1].Steps[3]
			a.Status, a.StartedAt, a.Deadline = store.StatusRunning, tp(100*time.Second), tp(100*time.Second+time.Hour)
			st.Weights = nil // the record may lag: the weights event is kept
			return store.StatusWaiting
		}},
	{name: "rejected and rolled back", now: 130 * time.Second, events: []api.Event{
		ev(125*time.Second, "step", "p2.s4", "approve-promotion failed", map[string]any{"status": "failed"}),
		ev(125*time.Second, "weights", "", "router reads back green=100 blue=0", map[string]int{"green": 100, "blue": 0}),
		ev(126*time.Second, "status", "", "execution rolled_back", map[string]string{"status": "rolled_back", "from": "rolling_back", "reason": "approve-promotion rejected by bob: p99 too high"})}},
}

// TestTreeGolden draws the tree after each frame of a fixed event sequence.
func TestTreeGolden(t *testing.T) {
	st := seedState()
	v := NewView(execution(store.StatusPending, st))
	var out bytes.Buffer
	for _, f := range frames {
		for _, e := range f.events {
			v.Apply(e)
		}
		if f.record != nil {
			status := f.record(&st)
			v.SetExecution(execution(status, st))
			v.Apply(f.events[len(f.events)-1]) // the record lags the stream's last event
		}
		fmt.Fprintf(&out, "=== %s (t+%s)\n", f.name, f.now)
		for _, l := range v.Lines(at(f.now), 96, false) {
			fmt.Fprintln(&out, l)
		}
	}
	golden.Check(t, filepath.Join("testdata", "tree.golden"), out.Bytes())
}

// TestNarrowAndColour cuts lines to the width and colours only the symbols.
func TestNarrowAndColour(t *testing.T) {
	st := seedState()
	v := NewView(execution(store.StatusRunning, st))
	for _, e := range frames[0].events {
		v.Apply(e)
	}
	for _, l := range v.Lines(at(time.Second), 30, false) {
		if n := len([]rune(l)); n > 30 {
			t.Errorf("%q is %d cells wide, want at most 30", l, n)
		}
	}
	lines := v.Lines(at(time.Second), 96, true)
	if want := "  \x1b[2m·\x1b[0m settle"; !strings.HasPrefix(lines[4], want) {
		t.Errorf("pending step drawn as %q, want the prefix %q", lines[4], want)
	}
}

// TestScreen checks what a Screen writes: the scrolling region beneath the tree,
// console lines written at its bottom, a full redraw after a resize, and the
// terminal given back on Close.
func TestScreen(t *testing.T) {
	w, h := 60, 16
	var out bytes.Buffer
	scr := NewScreen(&out, func() (int, int, error) { return w, h, nil }, false)
	v := NewView(execution(store.StatusPending, seedState()))
	steps := []string{}
	record := func(what string) {
		steps = append(steps, fmt.Sprintf("--- %s\n%s", what, strings.ReplaceAll(fmt.Sprintf("%q", out.String()), `\x1b`, "⎋")))
		out.Reset()
	}
	must(t, scr.Print("09:30:00 before the first draw"))
	must(t, scr.Draw(v, at(0)))
	record("first draw: clear, region 11-16, kept line")
	must(t, scr.Print("09:30:01 [p1.s1] ▶ upgrade-containers (deploy)"))
	record("a console line")
	for _, e := range frames[0].events {
		v.Apply(e)
	}
	must(t, scr.Draw(v, at(time.Second)))
	record("redraw in place")
	w, h = 50, 12
	must(t, scr.Draw(v, at(time.Second)))
	record("resize: full redraw")
	must(t, scr.Close(v, at(2*time.Second)))
	record("close")
	golden.Check(t, filepath.Join("testdata", "screen.golden"), []byte(strings.Join(steps, "\n")+"\n"))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {12345 * time.Microsecond, "12ms"}, {3456 * time.Millisecond, "3.5s"},
		{42 * time.Second, "42s"}, {125 * time.Second, "2m05s"}, {62 * time.Minute, "1h02m"},
	} {
		if got := duration(tc.d); got != tc.want {
			t.Errorf("duration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestConsoleText(t *testing.T) {
	for _, tc := range []struct {
		e    api.Event
		want string
	}{
		{api.Event{At: t0, Message: "hello"}, "09:30:00 hello"},
		{api.Event{At: t0, Step: "p1.s1", Level: "warn", Message: "slow"}, "09:30:00 [p1.s1] WARN: slow"},
		{api.Event{At: t0, Type: "measurement"}, ""},
	} {
		if got := ConsoleText(tc.e, time.UTC); got != tc.want {
			t.Errorf("ConsoleText(%+v) = %q, want %q", tc.e, got, tc.want)
		}
	}
}
