package local

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/platformtest"
)

func TestConformance(t *testing.T) {
	platformtest.Run(t, func(t *testing.T) platform.Platform {
		return newTest(t, testOptions(t))
	}, platformtest.Config{
		Artifact:     "app:v1",
		Artifact2:    "app:v2",
		NeverReady:   "never", // listens elsewhere than ${PORT}
		Health:       httpHealth,
		Env:          appEnvVars,
		ReadyTimeout: 15 * time.Second,
		Identities: func(p platform.Platform, ref platform.SlotRef) []string {
			var ids []string
			for _, pid := range pids(p.(*Platform), ref) {
				if pid != 0 && alive(pid) {
					ids = append(ids, strconv.Itoa(pid))
				}
			}
			return ids
		},
	})
}

func TestBadArtifactFailsFast(t *testing.T) {
	opts := testOptions(t)
	opts.Commands = append(opts.Commands, Command{Name: "missing", Executable: "/nonexistent/bin/app"})
	p := newTest(t, opts)
	ref := platform.SlotRef{Service: "bad", Slot: platform.Blue}
	for _, artifact := range []string{"missing", "/nonexistent/bin/app", "/bin/sh", "sh -c id", "app", "app:../../bin", "app:v1 --x", "true:v1", "nope:v1", ""} {
		start := time.Now()
		err := p.Deploy(ctxFor(t, 5*time.Second), deployment(ref, artifact, 1, ""))
		if !errors.Is(err, ErrBadArtifact) && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("Deploy(%q): err = %v, want ErrBadArtifact or ErrNotAllowed", artifact, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Deploy(%q) took %s", artifact, took)
		}
	}
	if st, _ := p.Status(context.Background(), ref); st.Desired != 0 {
		t.Errorf("a refused Deploy changed the slot: %+v", st)
	}
}

func TestExitsAtOnceFails(t *testing.T) {
	tests := []struct {
		name, artifact, want string
	}{
		{"fail-at-start", "app:v1", "failing at start"},
		{"false", "false", "exit status 1"},
		{"exit-zero", "true", "status 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTest(t, testOptions(t))
			ref := platform.SlotRef{Service: tc.name, Slot: platform.Green}
			if err := p.Deploy(ctxFor(t, 5*time.Second), withFlags(deployment(ref, tc.artifact, 2, "k"), "--fail-at-start")); err != nil {
				t.Fatal(err)
			}
			st := waitStatus(t, p, ref, 60*time.Second, "Failed", func(st platform.SlotStatus) bool { return st.Failed })
			reasons := joinReasons(st)
			if !strings.Contains(reasons, "exited before becoming ready 3 times") || !strings.Contains(reasons, tc.want) {
				t.Errorf("reasons %q, want the crash and %q", reasons, tc.want)
			}
			if st.Ready != 0 || st.Desired != 2 {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestHealthCheckNeverPasses(t *testing.T) {
	opts := testOptions(t)
	opts.ReadyTimeout = time.Second
	p := newTest(t, opts)
	ref := platform.SlotRef{Service: "unhealthy", Slot: platform.Blue}
	d := deployment(ref, "app:v1", 1, "k")
	d.Health = platform.HealthCheck{Path: "/nope", Status: 200}
	if err := p.Deploy(ctxFor(t, 5*time.Second), d); err != nil {
		t.Fatal(err)
	}
	// On a loaded machine the app may not listen within ReadyTimeout: the slot is then
	// Failed with "connection refused" first, and the reason turns to the 404 once it
	// answers (it keeps being probed).
	st := waitStatus(t, p, ref, 60*time.Second, "Failed on a 404", func(st platform.SlotStatus) bool {
		return st.Failed && strings.Contains(joinReasons(st), "status 404")
	})
	if r := joinReasons(st); !strings.Contains(r, "not ready after") || !strings.Contains(r, "status 404, want 200") {
		t.Errorf("reasons %q", r)
	}
	// Remove is bounded even though the instance never became ready.
	if err := p.Remove(ctxFor(t, 5*time.Second), ref, "rm"); err != nil {
		t.Fatal(err)
	}
}

func TestCrashedInstanceIsRestarted(t *testing.T) {
	p := newTest(t, testOptions(t))
	ref := platform.SlotRef{Service: "crashy", Slot: platform.Blue}
	if err := p.Deploy(ctxFor(t, 5*time.Second), deployment(ref, "app:v1", 1, "k")); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p, ref, 1)
	for i := range 3 { // several crashes after being ready never make the slot Failed
		old := pids(p, ref)[0]
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		sawCrash := false
		st := waitStatus(t, p, ref, 10*time.Second, "a restarted instance", func(st platform.SlotStatus) bool {
			sawCrash = sawCrash || strings.Contains(joinReasons(st), "signal: killed")
			ps := pids(p, ref)
			return st.Ready == 1 && len(ps) == 1 && ps[0] != old && ps[0] != 0
		})
		if st.Failed {
			t.Fatalf("crash %d: slot Failed: %v", i, st.Reasons)
		}
		if !sawCrash {
			t.Logf("crash %d: restart too fast to see the crash reason", i)
		}
	}
}

func TestPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	t.Run("told a taken port", func(t *testing.T) {
		// The port was free when picked and taken before the instance bound it: the
		// instance exits, and its restart gets a new port.
		opts := testOptions(t)
		var once sync.Once
		opts.pickPort = func(host string) (int, error) {
			port := 0
			once.Do(func() { port = takenPort })
			if port != 0 {
				return port, nil
			}
			return freePort(host)
		}
		p := newTest(t, opts)
		ref := platform.SlotRef{Service: "port", Slot: platform.Blue}
		if err := p.Deploy(ctxFor(t, 5*time.Second), deployment(ref, "app:v1", 1, "k")); err != nil {
			t.Fatal(err)
		}
		waitReady(t, p, ref, 1)
		if got := p.Instances(ref)[0].Port; got == takenPort {
			t.Errorf("instance ready on the taken port %d", got)
		}
	})
	t.Run("artifact insists on a taken port", func(t *testing.T) {
		p := newTest(t, testOptions(t))
		ref := platform.SlotRef{Service: "fixed", Slot: platform.Blue}
		if err := p.Deploy(ctxFor(t, 5*time.Second), withFlags(deployment(ref, "app:v1", 1, "k"), "--port "+strconv.Itoa(takenPort))); err != nil {
			t.Fatal(err)
		}
		st := waitStatus(t, p, ref, 10*time.Second, "Failed", func(st platform.SlotStatus) bool { return st.Failed })
		if r := joinReasons(st); !strings.Contains(r, "address already in use") {
			t.Errorf("reasons %q, want the bind error", r)
		}
	})
}

func TestRemoveLeavesNoOrphans(t *testing.T) {
	// A shell that starts a long-lived child and then becomes the app: the child is in
	// the instance's process group and must die with it.
	opts := testOptions(t)
	opts.Commands = append(opts.Commands, Command{Name: "family", Executable: "/bin/sh",
		Args: []string{"-c", `sleep 300 & exec "$0" --port "$PORT"`, testExe}})
	p := newTest(t, opts)
	ref := platform.SlotRef{Service: "family", Slot: platform.Green}
	artifact := "family"
	if err := p.Deploy(ctxFor(t, 5*time.Second), deployment(ref, artifact, 2, "k")); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p, ref, 2)
	leaders := pids(p, ref)
	for _, pid := range leaders {
		if n := len(groupMembers(t, pid)); n < 2 {
			t.Fatalf("group %d has %d members, want the app and its sleep child", pid, n)
		}
	}
	if err := p.Remove(ctxFor(t, 10*time.Second), ref, "rm"); err != nil {
		t.Fatal(err)
	}
	for _, pid := range leaders {
		if m := groupMembers(t, pid); len(m) > 0 {
			t.Errorf("after Remove, group %d still has %v", pid, m)
		}
	}
}

func TestOutputAndEndpoints(t *testing.T) {
	var mu sync.Mutex
	lines := map[int][]string{}
	var lastEndpoints []string
	opts := testOptions(t)
	opts.Output = func(ref platform.SlotRef, instance int, stream, line string) {
		mu.Lock()
		defer mu.Unlock()
		lines[instance] = append(lines[instance], stream+": "+line)
	}
	opts.OnEndpoints = func(ref platform.SlotRef, eps []string) {
		mu.Lock()
		defer mu.Unlock()
		lastEndpoints = eps
	}
	p := newTest(t, opts)
	ref := platform.SlotRef{Service: "chatty", Slot: platform.Blue}
	if err := p.Deploy(ctxFor(t, 5*time.Second), deployment(ref, "app:v7", 2, "k")); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p, ref, 2)
	eps := p.Endpoints(ref)
	if len(eps) != 2 || eps[0] == eps[1] {
		t.Fatalf("Endpoints = %v", eps)
	}
	check := func(what string, cond func() bool) {
		t.Helper()
		if err := eventually(5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return cond() }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	check("OnEndpoints with both instances", func() bool { return slices.Equal(lastEndpoints, eps) })
	check("a start line from each instance", func() bool {
		for i := range 2 {
			if !slices.ContainsFunc(lines[i], func(l string) bool {
				return strings.HasPrefix(l, "stdout: sample-app v7 listening on "+eps[i]) &&
					strings.Contains(l, `slot "blue" instance "`+strconv.Itoa(i)+`"`)
			}) {
				return false
			}
		}
		return true
	})
	if err := p.Scale(ctxFor(t, 10*time.Second), ref, 1, "down"); err != nil {
		t.Fatal(err)
	}
	check("OnEndpoints after scale down", func() bool { return slices.Equal(lastEndpoints, eps[:1]) })
	check("the stop line of instance 1", func() bool { return slices.Contains(lines[1], "stdout: sample-app v7 stopped") })
	if err := p.Remove(ctxFor(t, 10*time.Second), ref, "rm"); err != nil {
		t.Fatal(err)
	}
	check("OnEndpoints empty after Remove", func() bool { return len(lastEndpoints) == 0 })
}

func TestStateDirIsExclusive(t *testing.T) {
	opts := testOptions(t)
	newTest(t, opts)
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second New on the same state dir: %v", err)
	}
}

func TestTCPHealthCheckAndEnv(t *testing.T) {
	opts := testOptions(t)
	opts.Commands = append(opts.Commands, Command{Name: "named", Executable: testExe,
		Args: []string{"--port", "${PORT}", "--version", "${SERVICE}-${SLOT}"}})
	p := newTest(t, opts)
	ref := platform.SlotRef{Service: "tcp", Slot: platform.Green}
	d := deployment(ref, "named", 1, "k")
	d.Health = platform.HealthCheck{} // TCP connect
	if err := p.Deploy(ctxFor(t, 5*time.Second), d); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p, ref, 1)
	resp, err := httpGet(t, "http://"+p.Endpoints(ref)[0]+"/version")
	if err != nil {
		t.Fatal(err)
	}
	if resp != "tcp-green\n" {
		t.Errorf("/version = %q, want the substituted service and slot", resp)
	}
}
