package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

const crashEnv = "SLUICE_SQLITE_CRASH_CHILD"

// TestCrashKeepsAcknowledgedCommits runs a child process that commits from many
// goroutines and prints each acknowledged commit, kills it with SIGKILL mid-stream,
// and checks that every acknowledged commit survived with gapless seqs.
func TestCrashKeepsAcknowledgedCommits(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledgedCommits$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 500 {
		if key, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked[key] = true
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck // killed on purpose
	if len(acked) < 500 {
		t.Fatalf("child acknowledged only %d commits before exiting", len(acked))
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	j, err := s.Journal(context.Background(), "e1")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for i, e := range j {
		if e.Seq != int64(i+1) {
			t.Fatalf("seq gap after crash: entry %d has seq %d", i, e.Seq)
		}
		stored[e.Key] = true
	}
	for k := range acked {
		if !stored[k] {
			t.Fatalf("acknowledged commit %s lost in the crash (%d stored, %d acknowledged)", k, len(stored), len(acked))
		}
	}
	t.Logf("%d acknowledged, %d stored after SIGKILL", len(acked), len(stored))
}

func crashChild(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	e := &store.Execution{ID: "e1", Environment: "prod", Service: "shop", Status: store.StatusRunning, CreatedAt: t0, UpdatedAt: t0}
	if err := s.Commit(ctx, &store.Commit{Execution: e, Create: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("g%d/%d", g, i)
				c := &store.Commit{ExecutionID: "e1", Journal: []store.JournalEntry{{Key: key, Kind: "k", At: t0}}}
				if err := s.Commit(ctx, c); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", key)
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
}
