package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

// bench is one mode's run: a server process, its data directory and addresses.
type bench struct {
	o       options
	mode    string
	dir     string // temporary directory: data and logs
	data    string // the server's data directory
	api     string // the server's address
	listen  string // the router's listen address
	env     string // the environment's name
	server  *exec.Cmd
	started int // server starts, to name their logs
}

// runMode releases v1 through a server with the router in process mode, then
// loads the router while killing the server and upgrading the router.
func runMode(ctx context.Context, o options, mode string) (result, error) {
	if mode != "separate" && mode != "inprocess" {
		return result{}, fmt.Errorf("unknown mode %q (separate, inprocess)", mode)
	}
	b := &bench{o: o, mode: mode, env: "bench-" + mode}
	var err error
	if b.dir, err = os.MkdirTemp("", "sluice-restart-"+mode+"-"); err != nil {
		return result{}, err
	}
	os.Chmod(b.dir, 0o755) // the instances run as nobody
	b.data = filepath.Join(b.dir, "data")
	defer b.cleanup()
	if b.api, err = freeLoopback(); err != nil {
		return result{}, err
	}
	if b.listen, err = freeLoopback(); err != nil {
		return result{}, err
	}
	if err := b.startServer(ctx); err != nil {
		return result{}, err
	}
	if err := b.release(ctx); err != nil {
		return result{}, err
	}
	l := startLoad("http://"+b.listen+"/", o.rate)
	if err := b.disrupt(ctx, l); err != nil {
		l.end()
		return result{}, err
	}
	return l.end(), nil
}

// disrupt kills and restarts the server o.restarts times and, in separate mode,
// upgrades the router o.upgrades times spread among them.
func (b *bench) disrupt(ctx context.Context, l *load) error {
	between := int(b.o.between.Seconds() * float64(b.o.rate))
	if err := l.waitRequests(ctx, between); err != nil {
		return err
	}
	upgrades := 0
	for i := range b.o.restarts {
		if err := b.killServer(); err != nil {
			return err
		}
		if err := b.startServer(ctx); err != nil {
			return err
		}
		if err := l.waitRequests(ctx, between); err != nil {
			return err
		}
		if b.mode == "separate" && upgrades < b.o.upgrades && (i+1)*b.o.upgrades/b.o.restarts > upgrades {
			upgrades++
			if err := b.upgradeRouter(ctx, upgrades); err != nil {
				return err
			}
			if err := l.waitRequests(ctx, between); err != nil {
				return err
			}
		}
	}
	for b.mode == "separate" && upgrades < b.o.upgrades {
		upgrades++
		if err := b.upgradeRouter(ctx, upgrades); err != nil {
			return err
		}
		if err := l.waitRequests(ctx, between); err != nil {
			return err
		}
	}
	return nil
}

// startServer starts `sluice server` and waits until it is ready.
func (b *bench) startServer(ctx context.Context) error {
	b.started++
	logf, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("server-%02d.log", b.started)))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(b.o.sluice, "server", "--data-dir", b.data, "--addr", b.api)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	b.server = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get("http://" + b.api + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited }()
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited (%v); see %s", err, logf.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server was not ready within a minute; see %s", logf.Name())
		}
	}
}

// killServer kills the server with SIGKILL and waits until it is gone.
func (b *bench) killServer() error {
	pid := b.server.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill the server: %w", err)
	}
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		time.Sleep(time.Millisecond)
	}
	return nil
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] == 'Z'
		}
	}
	return false
}

// routerClient reads the state of the environment's router process.
func (b *bench) routerClient() (*routerd.Client, error) {
	return routerd.NewClient(routerd.ClientOptions{Dir: envrun.RouterDir(b.data, b.env), Settings: routerd.Settings{Listen: b.listen}})
}

// upgradeRouter runs `sluice router --upgrade` and waits until it serves.
func (b *bench) upgradeRouter(ctx context.Context, n int) error {
	logf, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("router-upgrade-%d.log", n)))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(b.o.sluice, "router", "--dir", envrun.RouterDir(b.data, b.env), "--upgrade")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("upgrade the router: %w", err)
	}
	go cmd.Wait() //nolint:errcheck // followed through its socket; reaped here
	c, err := b.routerClient()
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if v, err := c.State(ctx); err == nil && v.PID == cmd.Process.Pid {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("the upgraded router did not answer; see %s", logf.Name())
}

// release applies the documents and releases v1 to 100%.
func (b *bench) release(ctx context.Context) error {
	c, err := client.New("http://"+b.api, client.WithUser("bench"))
	if err != nil {
		return err
	}
	if _, err := c.Apply(ctx, "bench.yaml", []byte(b.documents()), false); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	ex, err := c.Run(ctx, "release-"+b.mode, 0, nil)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	for ex.Status != store.StatusSucceeded {
		switch ex.Status {
		case store.StatusFailed, store.StatusRolledBack, store.StatusAborted:
			return fmt.Errorf("the release ended %s: %s", ex.Status, ex.Reason)
		}
		time.Sleep(50 * time.Millisecond)
		if ex, err = c.GetExecution(ctx, ex.ID); err != nil {
			return err
		}
	}
	return nil
}

// documents are the environment and the release workflow of the mode.
func (b *bench) documents() string {
	exe, _ := json.Marshal(b.o.sluice)
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: %[1]s}
spec:
  platform:
    type: local
    local:
      stopGrace: 1s
      commands:
        - {name: sample-app, executable: %[2]s, args: [sample-app, --port, "${PORT}", --version, "${VERSION}"]}
  router: {type: builtin, builtin: {listen: %[3]s, process: %[4]s}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: release-%[4]s}
spec:
  environment: %[1]s
  service: {name: shop, port: 8080, artifact: "sample-app:v1", health: {path: /healthz, timeout: 1s}}
  phases:
    - name: release
      steps:
        - service: {}
        - deploy: {instances: 2}
        - traffic: 100%%
        - promote: {}
`, b.env, exe, b.listen, b.mode)
}

// cleanup stops the server, the router process and the instances, and removes
// the directory unless -keep.
func (b *bench) cleanup() {
	if b.server != nil && b.server.Process != nil {
		b.server.Process.Signal(syscall.SIGTERM)
		for i := 0; i < 500 && !zombie(b.server.Process.Pid); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if c, err := b.routerClient(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if v, err := c.State(ctx); err == nil {
			syscall.Kill(v.PID, syscall.SIGTERM)
		}
		cancel()
	}
	stopInstances(filepath.Join(envrun.LocalStateDir(b.data, b.env), "slots"))
	if b.o.keep {
		fmt.Fprintln(os.Stderr, "kept", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}

// stopInstances stops the process group of every instance recorded in dir.
func stopInstances(dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var rec struct {
			Instances []struct {
				Pid int `json:"pid"`
			} `json:"instances"`
		}
		if json.Unmarshal(raw, &rec) != nil {
			continue
		}
		for _, in := range rec.Instances {
			if in.Pid > 0 {
				syscall.Kill(-in.Pid, syscall.SIGTERM)
			}
		}
	}
}

// freeLoopback returns a loopback address that was free a moment ago.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", errors.Join(errors.New("no free loopback port"), err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
