package routerd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// Dir is the router's directory (state file and sockets). Required.
	Dir string
	// Settings are the environment's router.builtin settings.
	Settings Settings
	// Executable is the sluice binary started as `EXECUTABLE router --dir DIR ...`
	// when no router serves Dir. Required to start one; adopting needs none.
	Executable string
	// Source provides each slot's endpoints, pushed to the router on Ensure, on
	// EndpointsChanged and every Resync.
	Source builtin.EndpointSource
	// Resync is how often endpoints are compared with Source; 1s.
	Resync time.Duration
	// StartTimeout bounds the wait for a started router's admin API; 15s.
	StartTimeout time.Duration
	// Logger receives the client's events; nothing is logged when nil.
	Logger *slog.Logger
}

// Client drives a router process over its admin API; it satisfies
// traffic.Router. Closing it leaves the router serving.
type Client struct {
	opts ClientOptions
	hc   *http.Client

	mu       sync.Mutex
	services map[string]bool
	pushed   map[platform.SlotRef][]string
	cancel   context.CancelFunc
	done     chan struct{}
}

var _ traffic.Router = (*Client)(nil)

// NewClient returns a client; it starts or adopts nothing until Restore.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.Dir == "" || opts.Settings.Listen == "" {
		return nil, errors.New("router client: a directory and a listen address are required")
	}
	if opts.Resync <= 0 {
		opts.Resync = time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sock := SocketPath(opts.Dir)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second,
	}
	return &Client{
		opts: opts, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		services: map[string]bool{}, pushed: map[platform.SlotRef][]string{},
	}, nil
}

// Restore adopts the router serving Dir, or starts one (a process in its own
// session, so it outlives the server), then pushes the endpoints of every service
// it serves and keeps them in step with Source.
func (c *Client) Restore(ctx context.Context) error {
	v, err := c.state(ctx)
	if err != nil && !errors.Is(err, syscall.ENOENT) {
		v, err = c.State(ctx) // a socket is there: the router may be handing over
	}
	switch {
	case err == nil && v.Settings != c.opts.Settings:
		c.opts.Logger.Info("router settings changed; upgrading the router", "dir", c.opts.Dir, "pid", v.PID)
		if err := c.start(ctx, true); err != nil {
			return err
		}
	case err == nil:
		c.opts.Logger.Info("router adopted", "dir", c.opts.Dir, "pid", v.PID, "generation", v.State.Generation)
	default:
		if err := c.start(ctx, false); err != nil {
			return err
		}
	}
	if v, err = c.State(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	for name := range v.State.Services {
		c.services[name] = true
	}
	c.mu.Unlock()
	c.resync(ctx)
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel, c.done = cancel, make(chan struct{})
	go c.resyncLoop(loopCtx)
	return nil
}

// start runs a router process and waits until its admin API answers.
func (c *Client) start(ctx context.Context, upgrade bool) error {
	if c.opts.Executable == "" {
		return fmt.Errorf("router client: no router serves %s and no executable to start one", c.opts.Dir)
	}
	if err := os.MkdirAll(c.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("router client: %w", err)
	}
	logf, err := os.OpenFile(LogPath(c.opts.Dir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("router client: %w", err)
	}
	defer logf.Close()
	args := append([]string{"router", "--dir", c.opts.Dir}, c.opts.Settings.Args()...)
	if upgrade {
		args = append(args, "--upgrade")
	}
	cmd := exec.Command(c.opts.Executable, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A clean environment: nothing of the server's (database URLs, tokens) is
	// handed to a process that outlives it.
	cmd.Env, cmd.Dir = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, c.opts.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not killed with the server's process group
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("router client: start %s: %w", c.opts.Executable, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c.opts.Logger.Info("router started", "dir", c.opts.Dir, "pid", cmd.Process.Pid, "upgrade", upgrade)
	return c.waitReady(ctx, cmd.Process.Pid, exited)
}

// waitReady polls the admin API until the router with pid answers, it exits, or
// StartTimeout passes.
func (c *Client) waitReady(ctx context.Context, pid int, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if v, err := c.state(ctx); err == nil && v.PID == pid {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("router client: the router exited (%v): %s", err, lastLine(LogPath(c.opts.Dir)))
		case <-ctx.Done():
			return fmt.Errorf("router client: the router did not answer on %s: %w", SocketPath(c.opts.Dir), ctx.Err())
		case <-t.C:
		}
	}
}

// lastLine returns the last line of a log file, for error messages.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// State returns the router's settings and state; connection failures and a
// router handing over are retried for a few seconds.
func (c *Client) State(ctx context.Context) (StateView, error) {
	var v StateView
	err := c.do(ctx, http.MethodGet, "/v1/state", nil, nil, &v)
	return v, err
}

// state asks once, without retrying.
func (c *Client) state(ctx context.Context) (StateView, error) {
	var v StateView
	err := c.once(ctx, http.MethodGet, "/v1/state", nil, nil, &v)
	return v, err
}

// Ensure sets the service up in the router with its current endpoints.
func (c *Client) Ensure(ctx context.Context, rt traffic.Route) error {
	name := rt.Service.Service
	req := EnsureRequest{Route: rt, Endpoints: map[platform.Slot][]string{}}
	for _, slot := range []platform.Slot{platform.Green, platform.Blue} {
		req.Endpoints[slot] = c.source(platform.SlotRef{Service: name, Slot: slot})
	}
	if err := c.do(ctx, http.MethodPost, "/v1/ensure", nil, req, nil); err != nil {
		return fmt.Errorf("builtin: ensure %s: %w", name, err)
	}
	c.mu.Lock()
	c.services[name] = true
	for slot, eps := range req.Endpoints {
		c.pushed[platform.SlotRef{Service: name, Slot: slot}] = eps
	}
	c.mu.Unlock()
	return nil
}

// SetWeights writes the split; the router applies it atomically and records it.
func (c *Client) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	if err := w.Validate(); err != nil {
		return fmt.Errorf("builtin: set weights %s: %w", svc.Service, err)
	}
	q := url.Values{"service": {svc.Service}, "key": {key}}
	if err := c.do(ctx, http.MethodPut, "/v1/weights", q, w, nil); err != nil {
		return fmt.Errorf("builtin: set weights %s: %w", svc.Service, err)
	}
	return nil
}

// Weights reads the split from the router's live routing table.
func (c *Client) Weights(ctx context.Context, svc traffic.ServiceRef) (traffic.Weights, error) {
	var w traffic.Weights
	if err := c.do(ctx, http.MethodGet, "/v1/weights", url.Values{"service": {svc.Service}}, nil, &w); err != nil {
		return w, fmt.Errorf("builtin: weights %s: %w", svc.Service, err)
	}
	return w, nil
}

// Release stops serving the service.
func (c *Client) Release(ctx context.Context, svc traffic.ServiceRef) error {
	if err := c.do(ctx, http.MethodPost, "/v1/release", url.Values{"service": {svc.Service}}, nil, nil); err != nil {
		return fmt.Errorf("builtin: release %s: %w", svc.Service, err)
	}
	c.mu.Lock()
	delete(c.services, svc.Service)
	c.mu.Unlock()
	return nil
}

// Metrics returns the per-slot counters of a service.
func (c *Client) Metrics(service string) (proxy.MetricsSnapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var m proxy.MetricsSnapshot
	if err := c.do(ctx, http.MethodGet, "/v1/metrics", url.Values{"service": {service}}, nil, &m); err != nil {
		return m, fmt.Errorf("builtin: metrics %s: %w", service, err)
	}
	return m, nil
}

// Instances returns the router's view of a service's instances.
func (c *Client) Instances(service string) ([]proxy.InstanceHealth, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var in []proxy.InstanceHealth
	if err := c.do(ctx, http.MethodGet, "/v1/instances", url.Values{"service": {service}}, nil, &in); err != nil {
		return nil, fmt.Errorf("builtin: instances %s: %w", service, err)
	}
	return in, nil
}

// Addr returns the address the service is served on, or "" when the router does
// not serve it.
func (c *Client) Addr(service string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := c.State(ctx)
	if err != nil {
		return ""
	}
	if _, ok := v.State.Services[service]; !ok {
		return ""
	}
	return v.Addr
}

// EndpointsChanged pushes a slot's endpoints to the router; it has the
// signature of local.Options.OnEndpoints.
func (c *Client) EndpointsChanged(ref platform.SlotRef, eps []string) {
	c.mu.Lock()
	known := c.services[ref.Service]
	c.mu.Unlock()
	if !known {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.push(ctx, ref, eps)
}

// Close stops following the source; the router keeps serving.
func (c *Client) Close(ctx context.Context) error {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	c.hc.CloseIdleConnections()
	return nil
}

// push sends a slot's endpoints and remembers them.
func (c *Client) push(ctx context.Context, ref platform.SlotRef, eps []string) {
	q := url.Values{"service": {ref.Service}, "slot": {string(ref.Slot)}}
	if eps == nil {
		eps = []string{}
	}
	if err := c.do(ctx, http.MethodPut, "/v1/endpoints", q, eps, nil); err != nil {
		c.opts.Logger.Warn("router endpoints", "service", ref.Service, "slot", ref.Slot, "err", err)
		return
	}
	c.mu.Lock()
	c.pushed[ref] = append([]string(nil), eps...)
	c.mu.Unlock()
}

// source reads a slot's endpoints from Source.
func (c *Client) source(ref platform.SlotRef) []string {
	if c.opts.Source == nil {
		return nil
	}
	return c.opts.Source.Endpoints(ref)
}

// resync pushes every slot whose endpoints differ from what was pushed last.
func (c *Client) resync(ctx context.Context) {
	if c.opts.Source == nil {
		return
	}
	c.mu.Lock()
	var refs []platform.SlotRef
	for name := range c.services {
		refs = append(refs, platform.SlotRef{Service: name, Slot: platform.Green}, platform.SlotRef{Service: name, Slot: platform.Blue})
	}
	c.mu.Unlock()
	for _, ref := range refs {
		eps := c.source(ref)
		c.mu.Lock()
		prev, ok := c.pushed[ref]
		c.mu.Unlock()
		if !ok || !equalStrings(prev, eps) {
			c.push(ctx, ref, eps)
		}
	}
}

// resyncLoop calls resync every Resync until ctx is done.
func (c *Client) resyncLoop(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.opts.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.resync(ctx)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// retryFor bounds how long a call retries a router that is restarting or
// handing over.
const retryFor = 10 * time.Second

// do calls the admin API, retrying while the router cannot be reached or is
// handing over, for up to retryFor.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	deadline := time.Now().Add(retryFor)
	for {
		err := c.once(ctx, method, path, q, body, out)
		if err == nil || !retryable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// errHandingOver is wrapped by calls the router refused while handing over.
var errHandingOver = errors.New("router is handing over")

// retryable reports errors a moment later may not have: the router restarting
// or handing over (its admin connections close). Every admin call is idempotent,
// so repeating one whose answer was lost is safe.
func retryable(err error) bool {
	for _, e := range []error{errHandingOver, syscall.ECONNREFUSED, syscall.ENOENT, syscall.ECONNRESET, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// once makes one admin API call.
func (c *Client) once(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://router" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("router %s: %w", c.opts.Dir, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e) //nolint:errcheck // the status speaks when the body does not
		return apiErr(resp.StatusCode, e)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("router %s: answer of %s: %w", c.opts.Dir, path, err)
	}
	return nil
}

// apiErr turns an error answer back into the error the router returned.
func apiErr(status int, e apiError) error {
	msg := e.Error
	if msg == "" {
		msg = http.StatusText(status)
	}
	switch e.Kind {
	case "not-ensured":
		return fmt.Errorf("%w (%s)", builtin.ErrNotEnsured, msg)
	case "address-taken":
		return fmt.Errorf("%w (%s)", builtin.ErrAddressTaken, msg)
	case "handing-over":
		return fmt.Errorf("%w: %s", errHandingOver, msg)
	}
	return errors.New(msg)
}
