package local

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
)

// Options configures a local platform; zero values take the documented defaults.
type Options struct {
	// StateDir holds the platform's state (pids, ports, artifact and key per instance)
	// and each instance's output files. A later New on the same directory adopts the
	// instances still running. When empty, a temporary directory is used and removed by
	// Close, and nothing can be adopted.
	StateDir string
	// KeepRunning makes Close leave instances running, with their state on disk, for a
	// later New on the same StateDir to adopt. When false, Close stops every instance
	// and forgets every slot.
	KeepRunning bool
	// Host is the address instances are probed and reached on; 127.0.0.1 when empty.
	Host string
	// StopGrace is how long a stopped instance has between SIGTERM and SIGKILL; 5s.
	StopGrace time.Duration
	// HealthInterval is how often a ready instance is probed; 500ms. Instances that are
	// not ready yet are probed every 100ms.
	HealthInterval time.Duration
	// HealthTimeout bounds one probe; 1s.
	HealthTimeout time.Duration
	// ReadyTimeout is the progress deadline: an instance not ready for this long since
	// it was first started or last ready makes the slot Failed (it keeps running and
	// being probed); 60s.
	ReadyTimeout time.Duration
	// RestartBackoff is the first delay before restarting a crashed instance; it doubles
	// after each crash up to MaxBackoff; 200ms.
	RestartBackoff time.Duration
	// MaxBackoff caps the restart delay; 30s.
	MaxBackoff time.Duration
	// StartAttempts is how many times in a row an instance may exit before ever being
	// ready until the platform gives up on it and reports the slot Failed; 3.
	StartAttempts int
	// Output receives every line an instance writes to stdout or stderr ("stdout",
	// "stderr"). It is called from one goroutine per stream and must not block long.
	Output func(ref platform.SlotRef, instance int, stream, line string)
	// OnEndpoints is called, from a single goroutine and in order, with a slot's new
	// list of ready endpoints (host:port) each time the list may have changed.
	OnEndpoints func(ref platform.SlotRef, endpoints []string)
	// Commands are what instances may run; an artifact names one of them (see
	// Command). With none, every Deploy is refused.
	Commands []Command
	// User is the OS user (name or uid) instances run as when sluice runs as root;
	// nobody when empty. When sluice is not root it must be empty or sluice's own user.
	User string
	// WorkDir holds each instance's own working directory (the instance's HOME too);
	// a directory under the system's temporary directory named after StateDir when
	// empty.
	WorkDir string
	// Logger receives the platform's own events; nothing is logged when nil.
	Logger *slog.Logger

	// pickPort chooses an instance's port; tests replace it to hand out a taken port.
	pickPort func(host string) (int, error)
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StopGrace, 5*time.Second)
	def(&o.HealthInterval, 500*time.Millisecond)
	def(&o.HealthTimeout, time.Second)
	def(&o.ReadyTimeout, 60*time.Second)
	def(&o.RestartBackoff, 200*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	if o.StartAttempts <= 0 {
		o.StartAttempts = 3
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.pickPort == nil {
		o.pickPort = freePort
	}
	return o
}

// freePort asks the kernel for a port that is free on host right now.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick port: %w", err)
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return 0, fmt.Errorf("pick port: %w", err)
	}
	return strconv.Atoi(port)
}
