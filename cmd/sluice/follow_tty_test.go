package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// followFiles is a release with a timed wait (a progress bar) and an approval.
const followFiles = stagingShop + `  service: {name: shop, port: 8080, artifact: "${artifact}", instances: 2}
  phases:
    - name: setup-blue
      steps:
        - deploy: {instances: 100%}
        - name: settle
          wait: 4s
    - name: canary
      steps:
        - name: shift-canary
          traffic: 10%
        - name: approve-promotion
          approval: {approvers: [alice]}
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
`

// tmux runs commands against one private tmux server.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T) tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is required (apt-get install tmux)")
		}
		t.Skip("no tmux: apt-get install tmux")
	}
	tm := tmux{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.socket, "kill-server").Run() })
	return tm
}

func (tm tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitScreen polls the pane until ok says its text is what the test waits for.
func (tm tmux) waitScreen(what string, ok func(string) bool) string {
	tm.t.Helper()
	var screen string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if screen = tm.run("capture-pane", "-p", "-t", "follow"); ok(screen) {
			tm.t.Logf("screen (%s):\n%s", what, screen)
			return screen
		}
	}
	tm.t.Fatalf("the screen never showed %s:\n%s", what, screen)
	return ""
}

// TestFollowInATerminal runs `sluice run --follow` in a real terminal (tmux): the
// tree is drawn at the top with a progress bar for the wait, the console scrolls
// beneath it, the approval shows as waiting, and the command ends with the
// execution, leaving the final tree on the screen.
func TestFollowInATerminal(t *testing.T) {
	tm := newTmux(t)
	bin := sluiceBinary(t)
	c := startServer(t)
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(file, []byte(followFiles), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := c.run("apply", "-f", file); code != 0 {
		t.Fatalf("apply: %d %q %q", code, out, errOut)
	}
	cmd := "env SLUICE_SERVER=" + c.server + " SLUICE_USER=alice TERM=xterm-256color NO_COLOR=1 " + bin +
		" run shop --set artifact=shop:v2 --follow; echo EXIT=$?; sleep 60"
	tm.run("new-session", "-d", "-s", "follow", "-x", "100", "-y", "24", cmd)

	tm.waitScreen("the wait's progress bar", func(s string) bool {
		return strings.Contains(s, "settle") && strings.Contains(s, "[█") && strings.Contains(s, "── console")
	})
	screen := tm.waitScreen("the approval waiting", func(s string) bool {
		return strings.Contains(s, "⏸ approve-promotion") && strings.Contains(s, "green 100% · blue 0%")
	})
	lines := strings.Split(screen, "\n")
	if !strings.Contains(lines[0], "shop v1") || !strings.Contains(lines[0], "waiting") {
		t.Errorf("the first row is %q, want the execution's header", lines[0])
	}
	id := waitForWaiting(t, c)
	if code, out, errOut := c.run("approve", id, "--comment", "from tmux"); code != 0 {
		t.Fatalf("approve: %d %q %q", code, out, errOut)
	}
	tm.waitScreen("the end", func(s string) bool {
		return strings.Contains(s, "EXIT=0") && strings.Contains(s, "✓ approve-promotion") &&
			strings.Contains(s, "execution "+id+" succeeded")
	})
}
