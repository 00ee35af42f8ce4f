package routerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
)

// ErrRunning is returned by Run when a router already serves the directory or the
// listen address.
var ErrRunning = errors.New("a router is already running")

// Options configures a router process.
type Options struct {
	// Dir holds the state file and the sockets; created 0700. Required.
	Dir string
	// Settings are the listen address and what the router serves it with.
	Settings Settings
	// Upgrade takes the listening sockets over from the router running on Dir
	// instead of refusing to start next to it.
	Upgrade bool
	// DrainGrace bounds how long a replaced router lets its connections finish;
	// 10s.
	DrainGrace time.Duration
	// Ready, when set, is called once the router serves (after an upgrade: once
	// the old process let go).
	Ready func()
	// Logger receives the router's events; slog.Default() when nil.
	Logger *slog.Logger
}

// daemon is one running router process.
type daemon struct {
	opts   Options
	cfg    proxy.Config
	r      *builtin.Router
	frozen sync.RWMutex // held for writing while the listeners are handed over

	srcMu  sync.Mutex
	src    map[platform.SlotRef][]string // the endpoints the server sent last
	handed chan struct{}                 // closed when another process took over
}

// Run serves as the router of opts.Dir until ctx is done (then it stops
// gracefully, keeping its state file) or another process takes over with
// --upgrade (then it drains and returns nil). A corrupt state file, a router
// already serving Dir without Upgrade, or a taken listen address is an error
// before anything is served.
func Run(ctx context.Context, opts Options) error {
	if opts.Dir == "" || opts.Settings.Listen == "" {
		return errors.New("router: a directory and a listen address are required")
	}
	if opts.DrainGrace <= 0 {
		opts.DrainGrace = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if err := os.Chmod(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	// Refuse a state that cannot be trusted before touching a running router.
	if _, err := builtin.LoadState(StatePath(opts.Dir)); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	cfg, err := opts.Settings.ProxyConfig()
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	d := &daemon{opts: opts, cfg: cfg, handed: make(chan struct{}), src: map[platform.SlotRef][]string{}}
	return d.run(ctx)
}

// run starts the router (taking over from the old process when upgrading),
// serves the sockets and waits for the end.
func (d *daemon) run(ctx context.Context) error {
	var old *oldRouter
	inherited := map[string]net.Listener{}
	if d.opts.Upgrade {
		var err error
		if old, inherited, err = takeOver(ctx, d.opts.Dir); err != nil {
			return fmt.Errorf("router: upgrade: %w", err)
		}
	} else if err := d.checkAlone(); err != nil {
		return err
	}
	if err := d.loadSource(); err != nil {
		closeAll(inherited)
		old.abort()
		return fmt.Errorf("router: %w", err)
	}
	r, err := builtin.New(builtin.Options{
		Source: builtin.SourceFunc(d.source),
		Listen: d.opts.Settings.Listen, Admin: d.opts.Settings.Admin, Proxy: d.cfg, Mirror: d.opts.Settings.Mirror(),
		StateFile: StatePath(d.opts.Dir), Listeners: inherited, Resync: -1, Logger: d.opts.Logger,
	})
	if err == nil {
		err = r.Restore(ctx)
	}
	if err != nil {
		closeAll(inherited)
		old.abort()
		return fmt.Errorf("router: %w", err)
	}
	d.r = r
	closeAll(inherited) // those not used: the old process had them open for nothing
	if err := old.release(); err != nil {
		d.opts.Logger.Warn("router upgrade: the old process did not confirm", "err", err)
	}
	api, hand, err := d.listenSockets()
	if err != nil {
		r.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the socket error is the one to report
		return fmt.Errorf("router: %w", err)
	}
	d.opts.Logger.Info("router serving", "dir", d.opts.Dir, "listen", d.opts.Settings.Listen, "generation", r.State().Generation, "services", len(r.State().Services), "pid", os.Getpid())
	if d.opts.Ready != nil {
		d.opts.Ready()
	}
	go d.serveHandoff(hand, api)
	srv := d.serveAPI(api)
	select {
	case <-ctx.Done():
		hand.Close()
		srv.Close()
		d.opts.Logger.Info("router stopping")
		return r.Close(context.WithoutCancel(ctx))
	case <-d.handed:
		srv.Close()
		d.opts.Logger.Info("router handed over; draining")
		start := time.Now()
		err := r.Drain(context.WithoutCancel(ctx), d.opts.DrainGrace)
		d.opts.Logger.Info("router drained", "took", time.Since(start).Round(time.Millisecond), "err", err)
		return err
	}
}

// checkAlone refuses to start next to a router serving the same directory or
// address; it removes the sockets a dead router left.
func (d *daemon) checkAlone() error {
	if c, err := net.DialTimeout("unix", SocketPath(d.opts.Dir), time.Second); err == nil {
		c.Close()
		return fmt.Errorf("router: %s: %w (its admin socket %s answers); use --upgrade to replace it", d.opts.Dir, ErrRunning, SocketPath(d.opts.Dir))
	}
	os.Remove(SocketPath(d.opts.Dir))
	os.Remove(handoffPath(d.opts.Dir))
	for _, addr := range []string{d.opts.Settings.Listen, d.opts.Settings.Admin} {
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("router: %s: %w (address in use by another process)", addr, ErrRunning)
		}
		if err != nil {
			return fmt.Errorf("router: %s: %w", addr, err)
		}
		ln.Close()
	}
	return nil
}

// listenSockets opens the admin API and hand-over sockets, 0600.
func (d *daemon) listenSockets() (api, hand *net.UnixListener, err error) {
	if api, err = listenUnix(SocketPath(d.opts.Dir)); err != nil {
		return nil, nil, err
	}
	if hand, err = listenUnix(handoffPath(d.opts.Dir)); err != nil {
		api.Close()
		return nil, nil, err
	}
	return api, hand, nil
}

// listenUnix listens on a unix socket that only the owner may use.
func listenUnix(path string) (*net.UnixListener, error) {
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	return ln, nil
}

// closeAll closes listeners.
func closeAll(lns map[string]net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// loadSource starts the endpoint source from the state file, so restoring reads
// back the endpoints recorded there.
func (d *daemon) loadSource() error {
	st, err := builtin.LoadState(StatePath(d.opts.Dir))
	if err != nil {
		return err
	}
	for name, s := range st.Services {
		for slot, eps := range s.Endpoints {
			d.setSource(platform.SlotRef{Service: name, Slot: slot}, eps)
		}
	}
	return nil
}

// source returns the endpoints the server sent last for a slot.
func (d *daemon) source(ref platform.SlotRef) []string {
	d.srcMu.Lock()
	defer d.srcMu.Unlock()
	return d.src[ref]
}

// setSource records endpoints the server sent.
func (d *daemon) setSource(ref platform.SlotRef, eps []string) {
	d.srcMu.Lock()
	defer d.srcMu.Unlock()
	d.src[ref] = append([]string(nil), eps...)
}
