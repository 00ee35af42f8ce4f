package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one running (or adopted) operating-system process of an instance.
type proc struct {
	pid        int
	startTicks uint64 // field 22 of /proc/PID/stat: identifies the process with pid
	bootID     string
	port       int
	gen        int
	stdout     string // output file paths
	stderr     string
	started    time.Time
	adopted    bool

	exited  chan struct{}  // closed once the process is gone (reaped, or seen gone)
	exitErr error          // why it exited; set before exited is closed
	tailers sync.WaitGroup // the goroutines reading its output
}

// procStat is what sluice reads from /proc/PID/stat.
type procStat struct {
	state      byte
	pgrp       int
	startTicks uint64
}

// readStat parses /proc/PID/stat; the command name may hold spaces and parentheses, so
// the fields are taken after the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: pgrp: %w", pid, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: starttime: %w", pid, err)
	}
	return procStat{state: f[0][0], pgrp: pgrp, startTicks: start}, nil
}

// bootID identifies this boot of the machine, so a pid recorded before a reboot is
// never taken for a live process.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// isOurs reports whether pid is alive and is the very process recorded: same boot,
// same start time, still the leader of its own process group.
func isOurs(pid int, startTicks uint64, boot string) bool {
	if pid <= 1 || boot == "" || boot != bootID() {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.startTicks == startTicks && st.pgrp == pid
}

// startProc starts argv in its own process group with stdout and stderr appended to
// files, so the process survives sluice and its output can be read after a restart.
// The process runs in dir, as cred when not nil.
func startProc(argv, env []string, dir string, cred *syscall.Credential, stdoutPath, stderrPath string) (*proc, error) {
	open := func(path string) (*os.File, error) {
		return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	}
	out, err := open(stdoutPath)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	errf, err := open(stderrPath)
	if err != nil {
		return nil, err
	}
	defer errf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pr := &proc{pid: cmd.Process.Pid, bootID: bootID(), stdout: stdoutPath, stderr: stderrPath,
		started: time.Now(), exited: make(chan struct{})}
	if st, err := readStat(pr.pid); err == nil { // readable until reaped below
		pr.startTicks = st.startTicks
	}
	go func() {
		pr.exitErr = cmd.Wait()
		if pr.exitErr == nil {
			pr.exitErr = errors.New("exited with status 0")
		}
		close(pr.exited)
	}()
	return pr, nil
}

// watchAdopted closes pr.exited once the adopted process is gone; it is not our child,
// so it is polled rather than waited for. It stops polling when quit is closed.
func watchAdopted(pr *proc, quit <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if !isOurs(pr.pid, pr.startTicks, pr.bootID) {
			pr.exitErr = errors.New("exited (adopted process; status unknown)")
			close(pr.exited)
			return
		}
		select {
		case <-t.C:
		case <-quit:
			return
		}
	}
}

// groupAlive reports whether any process is left in process group pgid.
func groupAlive(pgid int) bool {
	return pgid > 1 && syscall.Kill(-pgid, 0) == nil
}

// stopGroup stops a process group gracefully: SIGTERM to every member, then SIGKILL to
// whatever is left after grace. exited, when not nil, is the leader's exit signal.
func stopGroup(pgid int, exited <-chan struct{}, grace time.Duration) {
	if pgid <= 1 {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	leaderGone := exited == nil
	for {
		if leaderGone && !groupAlive(pgid) {
			return
		}
		select {
		case <-exited:
			leaderGone, exited = true, nil
		case <-tick.C:
		case <-deadline.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			if exited != nil {
				select {
				case <-exited:
				case <-time.After(5 * time.Second):
				}
			}
			return
		}
	}
}

// killLeftovers stops what remains of a recorded instance that is no longer ours to
// adopt: if its pid now belongs to another process, nothing is touched; otherwise any
// member still in its process group is ours (a group id is not reused while the group
// has members) and is stopped.
func killLeftovers(pid int, startTicks uint64, grace time.Duration) {
	if pid <= 1 {
		return
	}
	if st, err := readStat(pid); err == nil && st.startTicks != startTicks {
		return // the pid was reused by someone else's process
	}
	if groupAlive(pid) {
		stopGroup(pid, nil, grace)
	}
}
