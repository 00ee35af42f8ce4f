// Command rollback measures how fast sluice rolls a bad canary back: a canary at
// 10% of a steady request rate through the built-in router starts failing a share
// of its requests at a moment the benchmark chooses, and the benchmark reports the
// time from the first failed response to 100% of traffic back on the live slot,
// and how many user requests failed, for the sequential judge and for a
// fixed-interval threshold judge measured in the same run. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/platform/local"
	"github.com/sluicehq/sluice/internal/sampleapp"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/store"
)

// options are the benchmark's flags.
type options struct {
	rounds      int
	rate        int
	failRate    float64
	seqInterval time.Duration
	fixedEvery  time.Duration
	maxErrRate  float64
	minDelay    time.Duration
	seed        uint64
	keep        bool
	judges      string
	prometheus  string
	promBin     string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sample-app" {
		os.Exit(sampleApp(os.Args[2:]))
	}
	var o options
	flag.IntVar(&o.rounds, "rounds", 5, "rounds per judge (the judges alternate)")
	flag.IntVar(&o.rate, "rate", 200, "user requests per second through the router (10% reach the canary)")
	flag.Float64Var(&o.failRate, "fail-rate", 0.2, "share of the canary's requests that fail once it goes bad")
	flag.DurationVar(&o.seqInterval, "seq-interval", 250*time.Millisecond, "how often the sequential judge is evaluated (the verify step's interval)")
	flag.DurationVar(&o.fixedEvery, "fixed-interval", 10*time.Second, "the fixed-interval judge's interval (Flagger's default is 1m)")
	flag.Float64Var(&o.maxErrRate, "max-error-rate", 0.01, "the fixed-interval judge fails a window above this error rate (Flagger: success rate 99%)")
	flag.DurationVar(&o.minDelay, "min-delay", 5*time.Second, "the canary goes bad this long after its execution starts, plus up to one fixed interval at random")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the random delays")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (server log, database)")
	flag.StringVar(&o.judges, "judges", "sequential,fixed", "the judges on the builtin provider to measure: sequential, fixed")
	flag.StringVar(&o.prometheus, "prometheus", "", "scrape intervals, e.g. 1s,15s: start a Prometheus per interval scraping the router and measure the sequential judge on each (judge seq-prom-<interval>)")
	flag.StringVar(&o.promBin, "prometheus-bin", "prometheus", "the Prometheus server binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "rollback:", err)
		os.Exit(1)
	}
}

// sampleApp runs the sample application: this binary is the canary's artifact.
func sampleApp(args []string) int {
	cfg, err := sampleapp.ParseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sampleapp.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// bench is one run: its server, client, load and results.
type bench struct {
	o    options
	dir  string
	set  setup
	c    *client.Client
	load *load
	w    *watcher
	rng  *rand.Rand
}

// run sets up the server and the live version, then measures the rounds.
func run(ctx context.Context, o options) (err error) {
	b := &bench{o: o, rng: rand.New(rand.NewPCG(o.seed, 0x5eed))}
	if b.dir, err = os.MkdirTemp("", "sluice-rollback-bench-"); err != nil {
		return err
	}
	stopServer, err := b.start(ctx)
	defer func() {
		err = errors.Join(err, stopServer(), stopInstances(b.dir))
		if o.keep {
			fmt.Printf("kept %s\n", b.dir)
		} else {
			os.RemoveAll(b.dir)
		}
	}()
	if err != nil {
		return err
	}
	if ex, err := b.execute(ctx, firstRelease, map[string]string{"version": "v1"}); err != nil {
		return err
	} else if ex.Status != store.StatusSucceeded {
		return fmt.Errorf("first release ended %s: %s", ex.Status, ex.Reason)
	}
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	go b.load.run(lctx, o.rate)
	go b.w.run(lctx, 5*time.Millisecond)
	time.Sleep(2 * time.Second) // warm connections and the router's counters
	var results []result
	for _, p := range b.set.proms {
		if err := p.waitSeries(ctx, "sluice_proxy_requests_total"); err != nil {
			return err
		}
	}
	for i := range o.rounds {
		for _, judge := range b.set.judges {
			r, err := b.round(ctx, i, judge)
			if err != nil {
				return err
			}
			fmt.Println(r)
			results = append(results, r)
		}
	}
	report(os.Stdout, o, b.set.judges, results)
	return nil
}

// start runs the server in process and applies the documents; the returned
// function stops the server.
func (b *bench) start(ctx context.Context) (func() error, error) {
	exe, err := os.Executable()
	if err != nil {
		return func() error { return nil }, err
	}
	b.set = setup{exe: exe, seqInterval: b.o.seqInterval, fixedEvery: b.o.fixedEvery, maxErrorRate: b.o.maxErrRate,
		analysis: b.o.minDelay + b.o.fixedEvery + 60*time.Second}
	if b.set.listen, err = freeLoopback(); err != nil {
		return func() error { return nil }, err
	}
	if b.set.admin, err = freeLoopback(); err != nil {
		return func() error { return nil }, err
	}
	if err := b.startProms(ctx); err != nil {
		return b.stopProms, err
	}
	url, stopServer, err := startServer(ctx, b.dir)
	stop := func() error { err := stopServer(); b.stopProms(); return err }
	if err != nil {
		return stop, err
	}
	if b.c, err = client.New(url, client.WithUser(benchUser)); err != nil {
		return stop, err
	}
	if _, err := b.c.Apply(ctx, "bench.yaml", []byte(b.set.documents()), false); err != nil {
		return stop, fmt.Errorf("apply the benchmark's documents: %w", err)
	}
	b.load = newLoad("http://" + b.set.listen + "/")
	b.w = &watcher{url: "http://" + b.set.admin + "/weights"}
	return stop, nil
}

// startProms starts one Prometheus per scrape interval asked for, each scraping
// the router's admin listener, and lists the judges of the run.
func (b *bench) startProms(ctx context.Context) error {
	for j := range strings.SplitSeq(b.o.judges, ",") {
		switch j = strings.TrimSpace(j); j {
		case "":
		case "sequential", "fixed":
			b.set.judges = append(b.set.judges, j)
		default:
			return fmt.Errorf("-judges: unknown judge %q (sequential, fixed)", j)
		}
	}
	intervals, err := parseIntervals(b.o.prometheus)
	if err != nil {
		return fmt.Errorf("-prometheus: %w", err)
	}
	for _, iv := range intervals {
		p, err := startPrometheus(ctx, b.o.promBin, filepath.Join(b.dir, "prometheus-"+iv.String()), b.set.admin, iv)
		if err != nil {
			return err
		}
		b.set.proms = append(b.set.proms, p)
		b.set.judges = append(b.set.judges, promJudge(iv))
	}
	if len(b.set.judges) == 0 {
		return errors.New("no judge to measure: set -judges or -prometheus")
	}
	return nil
}

// stopProms stops the Prometheus servers the benchmark started.
func (b *bench) stopProms() error {
	for _, p := range b.set.proms {
		p.stop()
	}
	b.set.proms = nil
	return nil
}

// spread is the range of the random moment a canary goes bad after the minimum
// delay: the fixed judge's interval, or the longest scrape interval, so that
// the judges' checks and the scrapes fall at every phase.
func (b *bench) spread() time.Duration {
	d := b.o.fixedEvery
	for _, p := range b.set.proms {
		d = max(d, p.interval)
	}
	return d
}

// longestScrape is the longest scrape interval of the run's Prometheus servers.
func (b *bench) longestScrape() time.Duration {
	var d time.Duration
	for _, p := range b.set.proms {
		d = max(d, p.interval)
	}
	return d
}

// execute runs a workflow and waits until its execution ends.
func (b *bench) execute(ctx context.Context, workflow string, vars map[string]string) (api.Execution, error) {
	ex, err := b.c.Run(ctx, workflow, 0, vars)
	if err != nil {
		return ex, fmt.Errorf("run %s: %w", workflow, err)
	}
	for {
		switch ex.Status {
		case store.StatusSucceeded, store.StatusFailed, store.StatusRolledBack, store.StatusAborted:
			return ex, nil
		case store.StatusWaiting, store.StatusPaused:
			return ex, fmt.Errorf("execution %s of %s is %s: %s", ex.ID, workflow, ex.Status, ex.Reason)
		}
		select {
		case <-ctx.Done():
			return ex, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if ex, err = b.c.GetExecution(ctx, ex.ID); err != nil {
			return ex, err
		}
	}
}

// startServer runs server.Run on a free loopback port with its data and log in dir.
func startServer(ctx context.Context, dir string) (string, func() error, error) {
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return "", func() error { return nil }, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done, ready := make(chan error, 1), make(chan string, 1)
	go func() {
		done <- server.Run(sctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir,
			Logger: slog.New(slog.NewTextHandler(logf, nil)), Ready: func(addr string) { ready <- addr }})
	}()
	stop := func() error {
		cancel()
		defer logf.Close()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("server did not stop within 20s")
		}
	}
	select {
	case addr := <-ready:
		return "http://" + addr, stop, nil
	case err := <-done:
		done <- err
		return "", stop, fmt.Errorf("server: %w", err)
	case <-time.After(30 * time.Second):
		return "", stop, errors.New("server not ready after 30s")
	}
}

// stopInstances stops the sample apps the server's local platform left running.
func stopInstances(dataDir string) error {
	stateDir := envrun.LocalStateDir(dataDir, envName)
	if _, err := os.Stat(stateDir); err != nil {
		return nil
	}
	p, err := local.New(local.Options{StateDir: stateDir, StopGrace: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("stop instances: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.Close(ctx)
}

// freeLoopback returns a loopback address that is free now.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
