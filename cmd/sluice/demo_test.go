package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain removes the demo binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if demoBin != "" {
		os.RemoveAll(filepath.Dir(demoBin))
	}
	os.Exit(code)
}

var (
	demoBinOnce sync.Once
	demoBin     string
	demoBinErr  error
)

// sluiceBinary builds cmd/sluice once per test run: the demo's artifact must be a
// real executable, and it is this very binary.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go is not on PATH: %v", err)
		}
		t.Skipf("go is not on PATH, cannot build the demo binary: %v", err)
	}
	demoBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-demo-test-")
		if err != nil {
			demoBinErr = err
			return
		}
		demoBin = filepath.Join(dir, "sluice")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goBin, "build", "-o", demoBin, ".").CombinedOutput()
		if err != nil {
			demoBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if demoBinErr != nil {
		t.Fatal(demoBinErr)
	}
	return demoBin
}

// demoResult is what a finished `sluice demo` printed and how it exited.
type demoResult struct {
	out  string
	code int
	dir  string // its temporary directory
}

var (
	outcomeRE = regexp.MustCompile(`== outcome: execution \S+ (\S+)`)
	liveRE    = regexp.MustCompile(`live: (\w+) \((\w+)\), router: green (\d+)% · blue (\d+)%`)
	dirRE     = regexp.MustCompile(`data and logs\s+(\S+)`)
)

// runDemo runs the demo binary with args, bounded, and checks it left nothing behind.
func runDemo(t *testing.T, stdin string, args ...string) demoResult {
	t.Helper()
	bin := sluiceBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"demo"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	res := demoResult{out: out.String(), code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		t.Fatalf("demo %v did not finish within 90s: %v\n%s", args, err, res.out)
	}
	t.Logf("demo %v took %s", args, time.Since(start).Round(time.Millisecond))
	if m := dirRE.FindStringSubmatch(res.out); m != nil {
		res.dir = m[1]
	}
	checkNothingLeft(t, bin, res)
	return res
}

// checkNothingLeft fails if an instance of the demo still runs or its directory stays.
func checkNothingLeft(t *testing.T, bin string, res demoResult) {
	t.Helper()
	if res.dir == "" {
		t.Fatalf("the demo did not say where its data is:\n%s", res.out)
	}
	if _, err := os.Stat(res.dir); !os.IsNotExist(err) {
		t.Errorf("the demo left its directory %s (stat: %v)", res.dir, err)
	}
	if pids := processesOf(bin); len(pids) > 0 {
		t.Errorf("the demo left processes of %s running: %v\n%s", bin, pids, res.out)
	}
}

// processesOf lists the pids whose command line starts with bin.
func processesOf(bin string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(b, []byte(bin+"\x00")) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// checkOutcome checks the final status, the live version and that the router sends
// all traffic to the live slot.
func checkOutcome(t *testing.T, res demoResult, status, version string) {
	t.Helper()
	m := outcomeRE.FindStringSubmatch(res.out)
	if m == nil || m[1] != status {
		t.Fatalf("outcome %v, want %s\n%s", m, status, res.out)
	}
	l := liveRE.FindStringSubmatch(res.out)
	if l == nil {
		t.Fatalf("no live line in the output:\n%s", res.out)
	}
	live, ver, green, blue := l[1], l[2], l[3], l[4]
	if ver != version {
		t.Errorf("live version %s, want %s", ver, version)
	}
	if (live == "green" && green != "100") || (live == "blue" && blue != "100") {
		t.Errorf("router green %s%% blue %s%%, want 100%% on the live slot %s", green, blue, live)
	}
}

func TestDemoPromotes(t *testing.T) {
	res := runDemo(t, "", "--yes")
	if res.code != 0 {
		t.Fatalf("sluice demo --yes exited %d\n%s", res.code, res.out)
	}
	checkOutcome(t, res, "succeeded", "v2")
	if !strings.Contains(res.out, "~ traffic split") {
		t.Errorf("the traffic split was never shown:\n%s", res.out)
	}
}

func TestDemoBadRollsBack(t *testing.T) {
	res := runDemo(t, "", "--bad", "--yes")
	if res.code != 0 {
		t.Fatalf("sluice demo --bad --yes exited %d\n%s", res.code, res.out)
	}
	checkOutcome(t, res, "rolled_back", "v1")
	if !strings.Contains(res.out, "reason: ") {
		t.Errorf("the rollback's reason was not printed:\n%s", res.out)
	}
}

func TestDemoPromptRejects(t *testing.T) {
	res := runDemo(t, "n\n")
	if res.code != 1 {
		t.Fatalf("sluice demo answered n exited %d, want 1 (not the expected promotion)\n%s", res.code, res.out)
	}
	checkOutcome(t, res, "rolled_back", "v1")
	if !strings.Contains(res.out, "[y/N]") {
		t.Errorf("the approval was not asked at the prompt:\n%s", res.out)
	}
}

// TestDemoInterrupted sends SIGINT in the middle of the canary: the demo ends at once
// with status 130 and leaves nothing running.
func TestDemoInterrupted(t *testing.T) {
	bin := sluiceBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo")
	// stdin stays open and silent, so the demo waits at its approval prompt.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd.Stdin = pr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var stderr bytes.Buffer // written by exec's goroutine; read only after Wait
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "execution waiting") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	cmd.Wait() //nolint:errcheck // the exit code is checked below
	out.Write(stderr.Bytes())
	res := demoResult{out: out.String(), code: cmd.ProcessState.ExitCode()}
	if m := dirRE.FindStringSubmatch(res.out); m != nil {
		res.dir = m[1]
	}
	if ctx.Err() != nil {
		t.Fatalf("the interrupted demo did not end:\n%s", res.out)
	}
	if res.code != 130 {
		t.Fatalf("interrupted demo exited %d, want 130\n%s", res.code, res.out)
	}
	checkNothingLeft(t, bin, res)
}
