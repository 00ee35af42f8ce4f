package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform/local"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/store"
)

// demoOptions are the flags of `sluice demo`.
type demoOptions struct {
	bad  bool // release a v2 that fails half its requests
	yes  bool // approve without asking
	keep bool // keep the temporary directory
}

func (a *app) demoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo [--bad] [--yes] [--keep]",
		Short: "Show a blue/green release with a canary phase, verification, approval and rollback on this machine",
		Long: `Start an embedded sluice server in a temporary directory, release v1 of a sample
service as the live version behind sluice's own router, then run the seed workflow for
v2: deploy it next to v1, send it 10% of the traffic, load test and verify it, ask for
approval, and promote it. With --bad, v2 fails half its requests and the canary is
rolled back automatically. Nothing is left running when the demo ends (Ctrl-C too).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.demo(cmd.Context(), o) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.bad, "bad", false, "release a v2 that answers 50% errors, to see the automatic rollback")
	fl.BoolVar(&o.yes, "yes", false, "approve the promotion without asking")
	fl.BoolVar(&o.keep, "keep", false, "keep the temporary directory (database, logs) afterwards")
	return cmd
}

// demoRun is one run of the demo: its server, client and output.
type demoRun struct {
	a    *app
	o    demoOptions
	out  io.Writer
	dir  string
	emb  *embedded
	c    *client.Client
	set  demoSetup
	load *demoTraffic
	// answers carries the lines typed at the prompt; inputDone is set once stdin ended.
	answers   chan promptAnswer
	inputDone bool
	// tty is stdout when it is a terminal: the demo then draws the follow tree.
	tty *os.File
	// prompting is set while the approval prompt waits for an answer: nothing else
	// prints then, so the prompt stays the last line on the screen.
	prompting atomic.Bool

	failedAt, restoredAt time.Time // when the canary started rolling back, and traffic was back
}

// demo runs the whole story and cleans up after it, whatever happens.
func (a *app) demo(ctx context.Context, o demoOptions) (err error) {
	dir, err := os.MkdirTemp("", "sluice-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	exe, removeCopy, err := demoExecutable()
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	defer removeCopy()
	d := &demoRun{a: a, o: o, out: &lockedWriter{w: a.stdout}, dir: dir, set: demoSetup{exe: exe, interactive: !o.yes}, tty: a.demoTerminal()}
	defer func() {
		if cerr := d.cleanup(); err == nil && cerr != nil {
			err = cerr
		}
		if ctx.Err() != nil {
			err = &exitError{code: 130, msg: "demo interrupted; everything it started is stopped"}
		}
	}()
	if err := d.start(ctx); err != nil {
		return err
	}
	return d.story(ctx)
}

// start runs the embedded server and applies the demo's documents.
func (d *demoRun) start(ctx context.Context) error {
	var err error
	if d.set.listen, err = freeLoopback(); err != nil {
		return err
	}
	if d.set.admin, err = freeLoopback(); err != nil {
		return err
	}
	d.emb, err = startEmbedded(ctx, d.dir)
	if err != nil {
		return err
	}
	d.c, err = client.New(d.emb.url, client.WithUser(demoUser))
	if err != nil {
		return err
	}
	d.load = newDemoTraffic("http://" + d.set.listen + "/")
	if _, err := d.c.Apply(ctx, "demo.yaml", []byte(d.set.documents()), false); err != nil {
		return fmt.Errorf("demo: apply the demo's documents: %w", err)
	}
	d.banner()
	return nil
}

func (d *demoRun) banner() {
	fmt.Fprintf(d.out, `sluice demo
  open the UI     %s/executions   (watch the release, approve it there or here)
  API             %s   (try: sluice --server %s get services)
  the service     http://%s/   (through sluice's builtin router)
  router admin    http://%s/weights   /metrics   /instances
  data and logs   %s   (server.log)
`, d.emb.url, d.emb.url, d.emb.url, d.set.listen, d.set.admin, d.dir)
}

// story releases v1, then runs the canary of v2 and judges the outcome.
func (d *demoRun) story(ctx context.Context) error {
	fmt.Fprintln(d.out, "\n== step 1: release v1 as the live version")
	ex, err := d.runFollow(ctx, "demo-first-release", map[string]string{"version": "v1"})
	if err != nil {
		return err
	}
	if ex.Status != store.StatusSucceeded {
		return &exitError{code: 1, msg: fmt.Sprintf("demo: the release of v1 ended %s: %s", ex.Status, ex.Reason)}
	}
	vars := map[string]string{"version": "v2", "error_rate": "0"}
	what := "a good v2"
	if d.o.bad {
		vars["error_rate"], what = "0.5", "a bad v2 (50% of its requests fail)"
	}
	fmt.Fprintf(d.out, "\n== step 2: canary release of %s, with user traffic through the router\n", what)
	tctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.load.run(tctx, 40) })
	if d.tty == nil { // the tree shows the split itself
		wg.Go(func() { showSplit(tctx, d.out, d.set.admin, d.load, 2*time.Second, d.prompting.Load) })
	}
	ex, err = d.runFollow(ctx, "demo-canary", vars)
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	return d.outcome(ctx, ex)
}

// runFollow starts a workflow and shows it until it ends, stopping at each approval
// to ask; it returns the execution as it ended.
func (d *demoRun) runFollow(ctx context.Context, workflow string, vars map[string]string) (api.Execution, error) {
	ex, err := d.c.Run(ctx, workflow, 0, vars)
	if err != nil {
		return api.Execution{}, fmt.Errorf("demo: run %s: %w", workflow, err)
	}
	fmt.Fprintf(d.out, "execution %s of workflow %s   (in the UI: %s/executions/%s)\n", ex.ID, workflow, d.emb.url, ex.ID)
	var after int64
	for {
		st, err := d.followStretch(ctx, ex.ID, after)
		if err != nil {
			return api.Execution{}, err
		}
		after = st.last
		if !st.waiting {
			break
		}
		d.decide(ctx, ex.ID)
	}
	return d.c.GetExecution(ctx, ex.ID)
}

// eventStatus returns the status a status event moves to, or "".
func eventStatus(e api.Event) store.Status {
	if e.Type != events.TypeStatus {
		return ""
	}
	var v events.StatusData
	if json.Unmarshal(e.Data, &v) != nil {
		return ""
	}
	return v.Status
}

// decide approves at once with --yes, and asks at the terminal otherwise; an answer
// given in the UI meanwhile ends the prompt.
func (d *demoRun) decide(ctx context.Context, id string) {
	approve, comment := true, "approved by sluice demo --yes"
	if !d.o.yes {
		d.prompting.Store(true)
		defer d.prompting.Store(false)
		fmt.Fprintf(d.out, "\n    (or approve it in the UI: %s/executions/%s)\n>>> Promote v2 to 100%% of the traffic? [y/N] ", d.emb.url, id)
		a, elsewhere := d.ask(ctx, id)
		if elsewhere {
			if ctx.Err() == nil {
				fmt.Fprintln(d.out, "\n    answered in the UI")
			}
			return
		}
		answer := strings.ToLower(strings.TrimSpace(a.line))
		approve = answer == "y" || answer == "yes"
		comment = "answered " + fmt.Sprintf("%q", answer) + " at the demo's prompt"
		if a.err != nil && answer == "" {
			comment = "no answer at the demo's prompt (input closed)"
		}
	}
	call := d.c.Approve
	if !approve {
		call = d.c.Reject
	}
	if err := call(ctx, id, comment); err != nil && ctx.Err() == nil {
		fmt.Fprintf(d.out, "demo: answering the approval: %v\n", err)
	}
}

// promptAnswer is one line read at the prompt, or why none could be.
type promptAnswer struct {
	line string
	err  error
}

// ask waits for a line of input, or until the approval is no longer waiting (someone
// answered it in the UI) or ctx ends: then elsewhere is true.
func (d *demoRun) ask(ctx context.Context, id string) (a promptAnswer, elsewhere bool) {
	if d.inputDone {
		return promptAnswer{err: io.EOF}, false
	}
	if d.answers == nil { // one reader for the whole demo: a read cannot be abandoned
		d.answers = make(chan promptAnswer)
		in := bufio.NewReader(d.a.stdin)
		go func() {
			for {
				line, err := in.ReadString('\n')
				d.answers <- promptAnswer{line, err}
				if err != nil {
					return
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return a, true
		case a = <-d.answers:
			d.inputDone = a.err != nil
			return a, false
		case <-tick.C:
			if ex, err := d.c.GetExecution(ctx, id); err == nil && ex.Status != store.StatusWaiting {
				return a, true
			}
		}
	}
}

// outcome prints how the canary ended and whether that is what the demo expected.
func (d *demoRun) outcome(ctx context.Context, ex api.Execution) error {
	want := store.StatusSucceeded
	if d.o.bad {
		want = store.StatusRolledBack
	}
	svcs, err := d.c.Services(ctx, demoEnv)
	if err != nil {
		return fmt.Errorf("demo: read the live version: %w", err)
	}
	w, err := routerWeights(ctx, d.set.admin)
	if err != nil {
		return err
	}
	live := api.Service{}
	for _, s := range svcs {
		if s.Service == demoService {
			live = s
		}
	}
	fmt.Fprintf(d.out, "\n== outcome: execution %s %s\n", ex.ID, ex.Status)
	if ex.Reason != "" {
		fmt.Fprintf(d.out, "   reason: %s\n", ex.Reason)
	}
	fmt.Fprintf(d.out, "   live: %s (%s), router: green %d%% · blue %d%%\n", live.LiveSlot, versionOf(live.Artifact), w.Green, w.Blue)
	if ex.Status != want {
		return &exitError{code: 1, msg: fmt.Sprintf("demo: expected the canary to end %s, it ended %s", want, ex.Status)}
	}
	if !d.restoredAt.IsZero() {
		fmt.Fprintf(d.out, "   all traffic was back on %s %s after the rollback began\n", live.LiveSlot, d.restoredAt.Sub(d.failedAt).Round(time.Millisecond))
	}
	if d.o.bad {
		fmt.Fprintln(d.out, "   the bad v2 was rolled back automatically: all traffic is on the live version.")
	} else {
		fmt.Fprintln(d.out, "   v2 is live and serves all traffic.")
	}
	return nil
}

// versionOf finds the version in an artifact NAME:VERSION.
func versionOf(artifact string) string {
	if _, v, ok := strings.Cut(artifact, ":"); ok {
		return v
	}
	return artifact
}

// cleanup stops the server, then every instance it left running for adoption, and
// removes the temporary directory unless --keep.
func (d *demoRun) cleanup() error {
	var errs []error
	if d.emb != nil {
		errs = append(errs, d.emb.stop())
	}
	errs = append(errs, stopInstances(filepath.Join(d.dir)))
	if d.o.keep {
		fmt.Fprintf(d.out, "kept %s\n", d.dir)
	} else if err := os.RemoveAll(d.dir); err != nil {
		errs = append(errs, fmt.Errorf("demo: remove %s: %w", d.dir, err))
	}
	return errors.Join(errs...)
}

// stopInstances adopts the instances the embedded server left running (its local
// platform keeps them for a restart) and stops them all.
func stopInstances(dataDir string) error {
	stateDir := envrun.LocalStateDir(dataDir, demoEnv)
	if _, err := os.Stat(stateDir); err != nil {
		return nil // the platform never started
	}
	p, err := local.New(local.Options{StateDir: stateDir, StopGrace: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("demo: stop instances: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		return fmt.Errorf("demo: stop instances: %w", err)
	}
	return nil
}

// embedded is the demo's in-process server.
type embedded struct {
	url    string
	cancel context.CancelFunc
	done   chan error
	log    *os.File
}

// startEmbedded runs server.Run on a free loopback port with its data in dir and its
// log in dir/server.log. It is stopped by stop, not by ctx, so cleanup runs in order.
func startEmbedded(ctx context.Context, dir string) (*embedded, error) {
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &embedded{cancel: cancel, done: make(chan error, 1), log: logf}
	ready := make(chan string, 1)
	go func() {
		e.done <- server.Run(sctx, server.Config{
			Addr: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.NewTextHandler(logf, nil)),
			Ready: func(addr string) { ready <- addr },
		})
	}()
	select {
	case addr := <-ready:
		e.url = "http://" + addr
		return e, nil
	case err := <-e.done:
		e.done <- err
		e.stop() //nolint:errcheck // the start-up error says it all
		return nil, fmt.Errorf("demo: embedded server: %w", err)
	case <-time.After(30 * time.Second):
		e.stop() //nolint:errcheck // the timeout says it all
		return nil, errors.New("demo: embedded server not ready after 30s")
	case <-ctx.Done():
		e.stop() //nolint:errcheck // interrupted
		return nil, ctx.Err()
	}
}

// stop ends the server (bounded) and closes its log.
func (e *embedded) stop() error {
	e.cancel()
	var err error
	select {
	case err = <-e.done:
	case <-time.After(20 * time.Second):
		err = errors.New("demo: embedded server did not stop within 20s")
	}
	e.log.Close()
	if err != nil {
		return fmt.Errorf("demo: embedded server: %w", err)
	}
	return nil
}

// freeLoopback returns a loopback address that is free now.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// lockedWriter serialises writes from the console follower and the split reporter.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
