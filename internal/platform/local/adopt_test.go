package local

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
)

// TestAdoption checks that a new platform on the same state dir adopts the instances a
// previous one left running (same pids, ready), replaces one killed while no platform
// was running, and that stopping the new platform leaves no process behind.
func TestAdoption(t *testing.T) {
	t.Run("after Close with KeepRunning", func(t *testing.T) {
		opts := testOptions(t)
		opts.KeepRunning = true
		p1, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		ref := platform.SlotRef{Service: "kept", Slot: platform.Blue}
		if err := p1.Deploy(ctxFor(t, 5*time.Second), deployment(ref, "app:v1", 2, "deploy")); err != nil {
			t.Fatal(err)
		}
		waitReady(t, p1, ref, 2)
		before := p1.Instances(ref)
		if err := p1.Close(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, in := range before {
			if !alive(in.PID) {
				t.Fatalf("Close with KeepRunning stopped instance %d (pid %d)", in.Index, in.PID)
			}
		}
		checkAdoption(t, opts.StateDir, ref, before)
	})
	t.Run("after sluice is killed", func(t *testing.T) {
		dir := t.TempDir()
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		host := exec.Command(exe, "-test.run=^$")
		host.Env = append(os.Environ(), hostEnv+"="+dir, "GORACE=atexit_sleep_ms=0")
		host.Stderr = os.Stderr
		out, err := host.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := host.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			line, _ := bufio.NewReader(out).ReadString('\n')
			ready <- strings.TrimSpace(line) == "READY"
		}()
		select {
		case ok := <-ready:
			if !ok {
				host.Process.Kill()
				host.Wait()
				t.Fatal("host sluice failed before its instances were ready")
			}
		case <-time.After(25 * time.Second):
			host.Process.Kill()
			host.Wait()
			t.Fatal("host sluice never reported READY")
		}
		host.Process.Signal(syscall.SIGKILL) // a crash: no Close, no cleanup
		host.Wait()
		recs, errs := readSlots(dir)
		if len(errs) > 0 || len(recs) != 1 || len(recs[0].Instances) != 2 {
			t.Fatalf("state after crash: %+v %v", recs, errs)
		}
		var before []Instance
		for _, ir := range recs[0].Instances {
			if !alive(ir.Pid) {
				t.Fatalf("instance %d (pid %d) died with its sluice", ir.Index, ir.Pid)
			}
			before = append(before, Instance{Index: ir.Index, PID: ir.Pid, Port: ir.Port})
		}
		checkAdoption(t, dir, hostRef, before)
	})
}

// checkAdoption kills the last instance of before, starts a platform on dir and checks
// the survivors are adopted and the killed one replaced, then that Close leaves nothing.
func checkAdoption(t *testing.T, dir string, ref platform.SlotRef, before []Instance) {
	t.Helper()
	killed := before[len(before)-1]
	if err := syscall.Kill(killed.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := eventually(5*time.Second, func() bool { return !alive(killed.PID) }); err != nil {
		t.Fatalf("killed pid %d still alive", killed.PID)
	}
	opts := testOptions(t)
	opts.StateDir = dir
	linesCh := make(chan string, 100)
	opts.Output = func(_ platform.SlotRef, _ int, _, line string) {
		select {
		case linesCh <- line:
		default:
		}
	}
	p2, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n := len(before)
	waitReady(t, p2, ref, n)
	after := p2.Instances(ref)
	var ports []int
	for i, in := range after {
		ports = append(ports, in.Port)
		if i < n-1 && (in.PID != before[i].PID || in.Port != before[i].Port) {
			t.Errorf("instance %d not adopted: before pid %d port %d, after pid %d port %d",
				i, before[i].PID, before[i].Port, in.PID, in.Port)
		}
	}
	if last := after[n-1]; last.PID == killed.PID || last.PID == 0 {
		t.Errorf("killed instance not replaced: %+v", last)
	}
	slices.Sort(ports)
	if len(slices.Compact(ports)) != n {
		t.Errorf("duplicate ports after adoption: %v", ports)
	}
	if eps := p2.Endpoints(ref); len(eps) != n {
		t.Errorf("Endpoints after adoption = %v", eps)
	}
	if err := p2.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for len(linesCh) > 0 {
		lines = append(lines, <-linesCh)
	}
	if !slices.Contains(lines, "sample-app v1 stopped") {
		t.Errorf("output of adopted instances not followed; got %q", lines)
	}
	for _, in := range slices.Concat(before, after) {
		if m := groupMembers(t, in.PID); len(m) > 0 {
			t.Errorf("after Close, process group %d still has %v", in.PID, m)
		}
	}
	if recs, _ := readSlots(dir); len(recs) != 0 {
		t.Errorf("state left after Close: %+v", recs)
	}
}

// TestUnverifiedPidIsLeftAlone checks that a recorded pid now held by a process that is
// not the one sluice started is never signalled, and the instance is replaced.
func TestUnverifiedPidIsLeftAlone(t *testing.T) {
	stranger := exec.Command("sleep", "30")
	if err := stranger.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	defer func() { stranger.Process.Kill(); stranger.Wait() }()
	opts := testOptions(t)
	ref := platform.SlotRef{Service: "stranger", Slot: platform.Blue}
	rec := slotRecord{Service: ref.Service, Slot: ref.Slot, Artifact: "app:v1", Env: appEnvVars, Health: httpHealth,
		Gen: 1, Desired: 1, Instances: []instanceRecord{{Index: 0, Gen: 1, Pid: stranger.Process.Pid,
			StartTicks: 1, BootID: bootID(), Port: 1}}}
	os.MkdirAll(opts.StateDir+"/slots", 0o755)
	if err := writeJSON(slotFile(opts.StateDir, ref), rec); err != nil {
		t.Fatal(err)
	}
	p := newTest(t, opts)
	waitReady(t, p, ref, 1)
	if got := p.Instances(ref)[0].PID; got == stranger.Process.Pid {
		t.Fatal("adopted a process it did not start")
	}
	time.Sleep(100 * time.Millisecond)
	if !alive(stranger.Process.Pid) {
		t.Error("signalled a process it did not start")
	}
}
