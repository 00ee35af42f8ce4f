package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// countingStore counts durable commits and the state transitions they carry.
type countingStore struct {
	store.Store
	commits     atomic.Int64
	transitions atomic.Int64
}

func (c *countingStore) Commit(ctx context.Context, cm *store.Commit) error {
	err := c.Store.Commit(ctx, cm)
	if err != nil {
		return err
	}
	c.commits.Add(1)
	for _, j := range cm.Journal {
		switch j.Kind {
		case "step.started", "step.finished", "status", "decision":
			c.transitions.Add(1)
		}
	}
	return nil
}

// BenchmarkConcurrentExecutions holds many executions at once at an approval gate,
// then approves them all and lets each run five wait steps, on SQLite with
// synchronous=FULL. It reports how many ran at once, the peak resident memory, and,
// after the gate, durable commits per second and the state transitions they carry per
// second (step started, step finished, status change, decision — each fsynced before
// the engine goes past it; one commit carries a step's finish and the next's start). Set
// SLUICE_BENCH_EXECUTIONS to change the count (default 10000):
//
//	go test -run='^$' -bench=ConcurrentExecutions -benchtime=1x ./internal/engine/
func BenchmarkConcurrentExecutions(b *testing.B) {
	n := 10000
	if s := os.Getenv("SLUICE_BENCH_EXECUTIONS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for b.Loop() {
		runMany(b, n)
	}
}

func runMany(b *testing.B, n int) {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer sq.Close()
	st := &countingStore{Store: sq}
	rec := recorder.New()
	eng, err := engine.New(engine.Options{Store: st, Resolver: enginetest.Resolver{Runtime: engine.Runtime{Platform: rec, Router: rec}}})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	for kind, src := range map[store.Kind]string{store.KindEnvironment: environmentYAML, store.KindWorkflow: gatedWaits} {
		if _, _, err := sq.PutDefinition(ctx, store.Definition{Kind: kind, Name: map[store.Kind]string{store.KindEnvironment: "test", store.KindWorkflow: "waits"}[kind], Source: src, CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go samplePeakRSS(&peak, stop)

	start := time.Now()
	ids := parallel(b, n, func(i int) (string, error) {
		ex, err := eng.Start(ctx, engine.StartRequest{Workflow: "waits", Variables: map[string]string{"svc": fmt.Sprintf("svc-%d", i)}})
		return ex.ID, err
	})
	startRate := float64(n) / time.Since(start).Seconds()
	waitAllWaiting(b, sq, n)
	concurrent := eng.Active()

	commits0, transitions0, gate := st.commits.Load(), st.transitions.Load(), time.Now()
	parallel(b, n, func(i int) (string, error) {
		return "", eng.Decide(ctx, ids[i], engine.Decision{Approve: true, By: "bench"})
	})
	for _, id := range ids {
		if err := eng.Wait(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	commits, transitions, elapsed := st.commits.Load()-commits0, st.transitions.Load()-transitions0, time.Since(gate)
	if done, err := sq.ListExecutions(ctx, store.ExecutionFilter{Status: store.StatusSucceeded}); err != nil || len(done) != n {
		b.Fatalf("%d of %d executions succeeded (%v)", len(done), n, err)
	}
	b.ReportMetric(float64(concurrent), "concurrent")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(startRate, "starts/s")
	b.ReportMetric(float64(commits)/elapsed.Seconds(), "commits/s")
	b.ReportMetric(float64(transitions)/elapsed.Seconds(), "transitions/s")
}

// gatedWaits waits for an approval, then runs five short waits.
const gatedWaits = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: waits}
spec:
  environment: test
  variables:
    - {name: svc, type: string, required: true}
  service: {name: "${svc}", port: 8080, artifact: "a:1"}
  phases:
    - name: gate
      steps:
        - approval: {approvers: [bench]}
    - name: waits
      steps:
        - {name: w1, wait: 100ms}
        - {name: w2, wait: 100ms}
        - {name: w3, wait: 100ms}
        - {name: w4, wait: 100ms}
        - {name: w5, wait: 100ms}
`

// parallel calls fn for 0..n-1 from 256 goroutines, as many API clients would.
func parallel(b *testing.B, n int, fn func(i int) (string, error)) []string {
	out := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 256 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				s, err := fn(i)
				if err != nil {
					failed.Store(err)
					return
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return out
}

func waitAllWaiting(b *testing.B, st store.Store, n int) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := st.ListExecutions(context.Background(), store.ExecutionFilter{Status: store.StatusWaiting})
		if err != nil {
			b.Fatal(err)
		}
		if len(list) == n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("executions never all reached their approval")
}

// samplePeakRSS records the largest resident set size of this process until stop.
func samplePeakRSS(peak *atomic.Int64, stop <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	page := int64(os.Getpagesize())
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		b, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			return
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return
		}
		rss, _ := strconv.ParseInt(f[1], 10, 64)
		if rss*page > peak.Load() {
			peak.Store(rss * page)
		}
	}
}
