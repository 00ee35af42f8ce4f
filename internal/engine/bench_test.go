package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// BenchmarkConcurrentExecutions runs many executions at once, each a chain of wait
// steps, on SQLite with synchronous=FULL, and reports durable step transitions per
// second and the peak resident memory. Set SLUICE_BENCH_EXECUTIONS to change the
// count (default 10000). Run it with:
//
//	go test -run='^$' -bench=ConcurrentExecutions -benchtime=1x ./internal/engine/
func BenchmarkConcurrentExecutions(b *testing.B) {
	n := 10000
	if s := os.Getenv("SLUICE_BENCH_EXECUTIONS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const steps = 5
	for b.Loop() {
		runMany(b, n, steps)
	}
}

func runMany(b *testing.B, n, steps int) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	eng, err := engine.New(engine.Options{Store: st, Resolver: staticResolver{recorder.New()}})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	put := func(kind store.Kind, name, src string) {
		if _, _, err := st.PutDefinition(ctx, store.Definition{Kind: kind, Name: name, Source: src, CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	put(store.KindEnvironment, "test", environmentYAML)
	put(store.KindWorkflow, "waits", waitsWorkflow(steps))

	var peak atomic.Int64
	stop := make(chan struct{})
	go samplePeakRSS(&peak, stop)
	start := time.Now()
	ids := startMany(b, eng, n)
	maxActive := eng.Active()
	for _, id := range ids {
		if err := eng.Wait(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	close(stop)
	done, err := st.ListExecutions(ctx, store.ExecutionFilter{Status: store.StatusSucceeded})
	if err != nil || len(done) != n {
		b.Fatalf("%d of %d executions succeeded (%v)", len(done), n, err)
	}
	// Each step is two durable transitions (started, finished); each execution adds
	// pending->running and running->succeeded.
	transitions := n * (2*steps + 2)
	b.ReportMetric(float64(transitions)/elapsed.Seconds(), "transitions/s")
	b.ReportMetric(float64(maxActive), "max-concurrent")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-RSS-MiB")
}

// startMany starts n executions from 256 concurrent callers, as API clients would.
func startMany(b *testing.B, eng *engine.Engine, n int) []string {
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 256)
	for range 256 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				ex, err := eng.Start(context.Background(), engine.StartRequest{Workflow: "waits", Variables: map[string]string{"svc": fmt.Sprintf("svc-%d", i)}})
				if err != nil {
					errs <- err
					return
				}
				ids[i] = ex.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return ids
}

func waitsWorkflow(steps int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: waits}
spec:
  environment: test
  variables:
    - {name: svc, type: string, required: true}
  service: {name: "${svc}", port: 8080, artifact: "a:1"}
  phases:
    - name: waits
      steps:
`)
	for i := range steps {
		fmt.Fprintf(&b, "        - {name: w%d, wait: 500ms}\n", i)
	}
	return b.String()
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
		runtime.Gosched()
	}
}
