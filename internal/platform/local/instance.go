package local

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
)

// startupProbeInterval is how often an instance that is not ready yet is probed.
const startupProbeInterval = 100 * time.Millisecond

// unreadyAfter is how many failed probes in a row take a ready instance out.
const unreadyAfter = 3

// instance is one numbered instance of a slot and the goroutine that supervises it.
type instance struct {
	ref    platform.SlotRef
	index  int
	spec   spec
	ctx    context.Context // cancelled to stop the instance (or to detach from it)
	cancel context.CancelFunc
	detach atomic.Bool   // on cancel, leave the process running
	done   chan struct{} // closed when the supervisor has returned

	// Guarded by Platform.mu.
	proc      *proc
	ready     bool
	failed    bool
	reason    string
	lastReady time.Time // last successful probe: the progress deadline counts from here
	crash     string    // restarts and last exit since the instance was last ready

	outMu sync.Mutex
	last  []string // the last lines of output, for crash reasons
}

// exit is how one run of an instance's process ended.
type exit struct {
	stopped   bool // stopped (or detached) on request, not crashed
	everReady bool
	err       error
	uptime    time.Duration
}

// supervise runs the instance: start, probe, restart after crashes with exponential
// backoff, give up after StartAttempts exits before ever being ready, stop on request.
func (p *Platform) supervise(in *instance, adopted *proc) {
	defer p.finish(in)
	firstStart := time.Now()
	backoff, failures, restarts := p.opts.RestartBackoff, 0, 0
	for {
		pr := adopted
		adopted = nil
		if pr == nil {
			var err error
			if pr, err = p.launch(in); err != nil {
				p.giveUp(in, fmt.Sprintf("start: %v", err))
				return
			}
		}
		ex := p.watch(in, pr, firstStart)
		if ex.stopped {
			return
		}
		restarts++
		if ex.everReady {
			failures, backoff = 0, p.opts.RestartBackoff
		} else {
			failures++
		}
		why := ex.err.Error()
		if last := in.lastLine(); last != "" {
			why += ": " + last
		}
		if failures >= p.opts.StartAttempts {
			p.giveUp(in, fmt.Sprintf("exited before becoming ready %d times in a row, last after %s: %s",
				failures, ex.uptime.Round(time.Millisecond), why))
			return
		}
		p.setCrash(in, fmt.Sprintf("%d restarts, last exit: %s", restarts, why), backoff)
		p.log.Warn("local: instance exited", "slot", in.ref.String(), "instance", in.index, "err", why, "restart_in", backoff)
		select {
		case <-in.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.opts.MaxBackoff)
	}
}

// giveUp marks the instance failed and waits for it to be stopped or replaced.
func (p *Platform) giveUp(in *instance, reason string) {
	p.mu.Lock()
	in.failed, in.ready, in.reason = true, false, reason
	p.mu.Unlock()
	p.log.Error("local: instance failed", "slot", in.ref.String(), "instance", in.index, "reason", reason)
	<-in.ctx.Done()
}

// setCrash records a crash; it stays in the instance's reason until it is ready again.
func (p *Platform) setCrash(in *instance, crash string, backoff time.Duration) {
	p.mu.Lock()
	in.crash = crash
	in.reason = fmt.Sprintf("crashed (%s), restarting in %s", crash, backoff)
	p.mu.Unlock()
}

// launch picks a free port and starts the instance's process, recording it on disk.
func (p *Platform) launch(in *instance) (*proc, error) {
	port, err := p.reservePort()
	if err != nil {
		return nil, err
	}
	vars := map[string]string{"PORT": strconv.Itoa(port), "SLOT": string(in.ref.Slot),
		"SERVICE": in.ref.Service, "INSTANCE": strconv.Itoa(in.index)}
	pr, err := p.start(in, vars)
	if err == nil {
		pr.port, pr.gen = port, in.spec.Gen
		return p.register(in, pr, 0), nil
	}
	p.mu.Lock()
	delete(p.ports, port)
	p.mu.Unlock()
	return nil, err
}

// register makes pr the instance's process, writes the slot state and starts reading
// the process's output from offset. It returns pr.
func (p *Platform) register(in *instance, pr *proc, offset int64) *proc {
	p.mu.Lock()
	in.proc = pr
	if s := p.slots[in.ref]; s != nil {
		p.save(s)
	}
	p.mu.Unlock()
	p.bg.Add(2)
	pr.tailers.Add(2)
	go p.tail(in, pr, "stdout", pr.stdout, offset)
	go p.tail(in, pr, "stderr", pr.stderr, offset)
	return pr
}

// reservePort picks a port no known process holds and reserves it.
func (p *Platform) reservePort() (int, error) {
	for range 20 {
		port, err := p.opts.pickPort(p.opts.Host)
		if err != nil {
			return 0, err
		}
		p.mu.Lock()
		taken := p.ports[port]
		if !taken {
			p.ports[port] = true
		}
		p.mu.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("pick port: no free port after 20 tries")
}

// start resolves the instance's artifact and starts its process as the instances'
// user, in the instance's own working directory, with output going to files.
func (p *Platform) start(in *instance, vars map[string]string) (*proc, error) {
	iv, err := resolve(p.opts.Commands, in.spec.Artifact)
	if err != nil {
		return nil, err
	}
	argv := iv.argv(vars)
	work, err := p.makeInstanceDir(in)
	if err != nil {
		return nil, err
	}
	dir := logDir(p.dir, in.ref)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, fmt.Sprintf("%d.g%d", in.index, in.spec.Gen))
	return startProc(argv, environ(in.spec.Env, vars, work), work, p.user.cred, base+".stdout", base+".stderr")
}

// basePath is the PATH of every instance; a service cannot change it.
const basePath = "/usr/local/bin:/usr/bin:/bin"

// environ is an instance's whole environment, nothing inherited from sluice: PATH,
// HOME (its working directory), the deployment's variables, whose values may use
// ${PORT} and the like, and last PORT, SLOT, SERVICE, INSTANCE and VERSION.
func environ(env, vars map[string]string, work string) []string {
	out := []string{"PATH=" + basePath, "HOME=" + work}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+substitute(env[k], vars))
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if vars[k] != "" {
			out = append(out, k+"="+vars[k])
		}
	}
	return out
}

// watch probes the running process until it exits or the instance is stopped.
func (p *Platform) watch(in *instance, pr *proc, firstStart time.Time) exit {
	var (
		everReady bool
		fails     int
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-in.ctx.Done():
			p.unready(in)
			if !in.detach.Load() {
				stopGroup(pr.pid, pr.exited, p.opts.StopGrace)
				p.drainOutput(pr)
			}
			return exit{stopped: true}
		case <-pr.exited:
			p.exited(in, pr)
			p.drainOutput(pr)
			return exit{everReady: everReady, err: pr.exitErr, uptime: time.Since(pr.started)}
		case <-timer.C:
		}
		err := probe(in.ctx, p.addr(pr.port), in.spec.Health, cmp.Or(in.spec.Health.Timeout, p.opts.HealthTimeout))
		if err == nil {
			fails = 0
			everReady = true
		} else {
			fails++
		}
		p.observe(in, err, fails, firstStart)
		next := startupProbeInterval
		if everReady && err == nil {
			next = p.opts.HealthInterval
		}
		timer.Reset(next)
	}
}

// observe records one probe result: ready on success, not ready after unreadyAfter
// failures in a row, failed once not ready for ReadyTimeout since the instance was
// first started or last ready.
func (p *Platform) observe(in *instance, err error, fails int, firstStart time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.ctx.Err() != nil {
		return
	}
	was := in.ready
	switch {
	case err == nil:
		in.ready, in.failed, in.reason, in.crash, in.lastReady = true, false, "", "", time.Now()
	case !in.ready || fails >= unreadyAfter:
		in.ready = false
		in.reason = "not ready: " + err.Error()
		if in.crash != "" {
			in.reason = fmt.Sprintf("not ready after a crash (%s): %v", in.crash, err)
		}
		since := firstStart
		if in.lastReady.After(since) {
			since = in.lastReady
		}
		if waited := time.Since(since); waited > p.opts.ReadyTimeout {
			in.failed = true
			in.reason = fmt.Sprintf("not ready after %s: %v", waited.Round(time.Second), err)
		}
	}
	if was != in.ready {
		p.markDirty(in.ref)
		p.log.Info("local: instance readiness", "slot", in.ref.String(), "instance", in.index, "ready", in.ready)
	}
}

// exited forgets the instance's process, which is gone, and frees its port.
func (p *Platform) exited(in *instance, pr *proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.ready {
		in.ready = false
		p.markDirty(in.ref)
	}
	if in.proc == pr {
		in.proc = nil
		delete(p.ports, pr.port)
	}
}

func (p *Platform) unready(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.ready {
		in.ready = false
		p.markDirty(in.ref)
	}
}

func (p *Platform) addr(port int) string {
	return p.opts.Host + ":" + strconv.Itoa(port)
}

// lastLine returns the instance's last line of output, trimmed, or "".
func (in *instance) lastLine() string {
	in.outMu.Lock()
	defer in.outMu.Unlock()
	if len(in.last) == 0 {
		return ""
	}
	return strings.TrimSpace(in.last[len(in.last)-1])
}

// adoptSlot rebuilds a slot from its record: processes verified as ours are adopted,
// leftovers are stopped, missing instances are started. Callers hold p.mu.
func (p *Platform) adoptSlot(rec slotRecord) {
	ref := platform.SlotRef{Service: rec.Service, Slot: rec.Slot}
	if err := checkRef(ref); err != nil {
		p.log.Warn("local: skipping slot state", "err", err)
		return
	}
	s := &slot{ref: ref, desired: rec.Desired, removed: rec.Removed, key: rec.Key,
		spec:     newSpec(rec.Artifact, rec.Env, rec.Secrets, rec.Health, rec.Gen),
		live:     map[int]*instance{},
		stopping: map[*instance]struct{}{}}
	p.slots[ref] = s
	for _, ir := range rec.Instances {
		ours := isOurs(ir.Pid, ir.StartTicks, ir.BootID)
		wanted := !ir.Stopping && !rec.Removed && ir.Index < rec.Desired && ir.Gen == rec.Gen && s.live[ir.Index] == nil
		pr := &proc{pid: ir.Pid, startTicks: ir.StartTicks, bootID: ir.BootID, port: ir.Port, gen: ir.Gen,
			stdout: ir.Stdout, stderr: ir.Stderr, started: time.Now(), adopted: true, exited: make(chan struct{})}
		switch {
		case ours && wanted:
			p.log.Info("local: adopting instance", "slot", ref.String(), "instance", ir.Index, "pid", ir.Pid, "port", ir.Port)
			p.bg.Add(1)
			go func() { defer p.bg.Done(); watchAdopted(pr, p.ctx.Done()) }()
			p.bg.Add(2)
			pr.tailers.Add(2)
			in := p.startInstance(s, ir.Index, pr)
			go p.tail(in, pr, "stdout", pr.stdout, -1)
			go p.tail(in, pr, "stderr", pr.stderr, -1)
		case ours:
			p.log.Info("local: stopping unwanted instance", "slot", ref.String(), "instance", ir.Index, "pid", ir.Pid)
			p.bg.Add(2)
			go func() { defer p.bg.Done(); watchAdopted(pr, p.ctx.Done()) }()
			go func() { defer p.bg.Done(); stopGroup(pr.pid, pr.exited, p.opts.StopGrace) }()
		default:
			p.log.Info("local: replacing lost instance", "slot", ref.String(), "instance", ir.Index, "pid", ir.Pid)
			p.bg.Add(1)
			go func() { defer p.bg.Done(); killLeftovers(ir.Pid, ir.StartTicks, p.opts.StopGrace) }()
		}
	}
	p.reconcile(s)
	if !p.forgetIfDone(s) {
		p.save(s)
	}
}
