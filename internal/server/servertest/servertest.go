package servertest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/platform/local"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/store"
)

// Start runs server.Run for the test, its log in DATA/server.log, and returns a
// client acting as the user "tester". At cleanup it stops the server, then the
// instances its local platform left running for environment env.
func Start(t *testing.T, ctx context.Context, env string) *client.Client {
	t.Helper()
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done, ready := make(chan error, 1), make(chan string, 1)
	go func() {
		done <- server.Run(sctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir,
			Logger: slog.New(slog.NewTextHandler(logf, nil)), Ready: func(addr string) { ready <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		logf.Close()
		stopInstances(t, envrun.LocalStateDir(dir, env))
	})
	select {
	case addr := <-ready:
		c, err := client.New("http://"+addr, client.WithUser("tester"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	case err := <-done:
		done <- err
		t.Fatalf("server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready after 30 s")
	}
	return nil
}

// stopInstances adopts the instances a local platform left in stateDir and stops them.
func stopInstances(t *testing.T, stateDir string) {
	p, err := local.New(local.Options{StateDir: stateDir, StopGrace: time.Second})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = p.Close(ctx)
	}
	if err != nil {
		t.Errorf("stop instances: %v", err)
	}
}

// Execute runs a workflow and waits until its execution ends or waits for a person.
func Execute(t *testing.T, ctx context.Context, c *client.Client, workflow string, vars map[string]string) api.Execution {
	t.Helper()
	ex, err := c.Run(ctx, workflow, 0, vars)
	for err == nil {
		switch ex.Status {
		case store.StatusSucceeded, store.StatusFailed, store.StatusRolledBack, store.StatusAborted, store.StatusWaiting, store.StatusPaused:
			return ex
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(100 * time.Millisecond):
			ex, err = c.GetExecution(ctx, ex.ID)
		}
	}
	t.Fatalf("execution of %v: %v", vars, err)
	return ex
}
