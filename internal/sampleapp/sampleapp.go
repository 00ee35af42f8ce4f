package sampleapp

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrFailAtStart is returned by Run when Config.FailAtStart is set.
var ErrFailAtStart = errors.New("sampleapp: failing at start as configured")

// Config sets how the sample application behaves.
type Config struct {
	Version   string        // reported by / and /version
	Host      string        // listen host; 127.0.0.1 when empty
	Port      int           // listen port; 0 picks a free one
	Latency   time.Duration // added to every request to /
	Jitter    time.Duration // up to this much more latency, uniformly random
	ErrorRate float64       // share of requests to / that answer 500, 0..1
	// FailRate replaces ErrorRate from FailFrom on, or from FailAfter after the
	// handler was made (see failfrom.go).
	FailRate     float64
	FailFrom     time.Time
	FailAfter    time.Duration
	StartupDelay time.Duration // wait this long before listening
	FailAtStart  bool          // exit with an error instead of serving
	Seed         uint64        // seeds the random generator; 0 seeds from the clock
	Service      string        // reported by /; from $SERVICE by default
	Slot         string        // reported by /; from $SLOT by default
	Instance     string        // reported by /; from $INSTANCE by default
	Log          io.Writer     // start and stop lines; os.Stdout when nil
	// Ready, when set, receives the listen address once the server accepts connections.
	Ready func(addr string)
}

// DefaultConfig returns the configuration used when no flag is given: version v1, the
// port from $PORT, and service, slot and instance from $SERVICE, $SLOT and $INSTANCE.
func DefaultConfig() Config {
	port, _ := strconv.Atoi(os.Getenv("PORT"))
	return Config{
		Version:  "v1",
		Host:     "127.0.0.1",
		Port:     port,
		Service:  os.Getenv("SERVICE"),
		Slot:     os.Getenv("SLOT"),
		Instance: os.Getenv("INSTANCE"),
	}
}

// RegisterFlags defines the sample application's flags on fs, writing into c; call it
// on a Config from DefaultConfig so unset flags keep their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Version, "version", c.Version, "version reported by / and /version")
	fs.StringVar(&c.Host, "host", c.Host, "listen host")
	fs.IntVar(&c.Port, "port", c.Port, "listen port (default $PORT; 0 picks a free port)")
	fs.DurationVar(&c.Latency, "latency", c.Latency, "latency added to every request to /")
	fs.DurationVar(&c.Jitter, "jitter", c.Jitter, "up to this much more random latency")
	fs.Float64Var(&c.ErrorRate, "error-rate", c.ErrorRate, "share of requests to / answering 500 (0..1)")
	fs.DurationVar(&c.StartupDelay, "startup-delay", c.StartupDelay, "wait this long before listening")
	fs.BoolVar(&c.FailAtStart, "fail-at-start", c.FailAtStart, "exit with an error instead of serving")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed (0 seeds from the clock)")
	fs.StringVar(&c.Service, "service", c.Service, "service name reported by / (default $SERVICE)")
	fs.StringVar(&c.Slot, "slot", c.Slot, "slot reported by / (default $SLOT)")
	fs.StringVar(&c.Instance, "instance", c.Instance, "instance reported by / (default $INSTANCE)")
	c.registerFailFlags(fs)
}

// ParseArgs returns DefaultConfig overridden by the flags in args (without the program
// or command name), validated; it is all a CLI command needs before Run.
func ParseArgs(args []string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("sample-app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	if err := envFlags(fs, os.Getenv); err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("sampleapp: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("sampleapp: unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

// EnvPrefix names the environment variables that set flags: SAMPLE_APP_ERROR_RATE=0.3
// is --error-rate 0.3. On the local platform an artifact picks a command and a
// version, never flags, so a service's env is how a workflow tunes the app; flags
// given on the command line win.
const EnvPrefix = "SAMPLE_APP_"

// envFlags sets every flag of fs whose SAMPLE_APP_ variable getenv has.
func envFlags(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("sampleapp: %s: %w", name, serr)
			}
		}
	})
	return err
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.ErrorRate < 0 || c.ErrorRate > 1:
		return fmt.Errorf("sampleapp: error-rate %v: must be between 0 and 1", c.ErrorRate)
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("sampleapp: port %d: out of range", c.Port)
	case c.Latency < 0 || c.Jitter < 0 || c.StartupDelay < 0:
		return errors.New("sampleapp: latency, jitter and startup-delay must not be negative")
	}
	return c.validateFail()
}

// Response is the JSON body of /.
type Response struct {
	Version  string `json:"version"`
	Service  string `json:"service,omitempty"`
	Slot     string `json:"slot,omitempty"`
	Instance string `json:"instance,omitempty"`
	Status   int    `json:"status"`
}

// Run serves until ctx is done, then shuts down gracefully; it returns nil after a
// clean shutdown.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	out := cfg.Log
	if out == nil {
		out = os.Stdout
	}
	if cfg.FailAtStart {
		return ErrFailAtStart
	}
	if err := sleep(ctx, cfg.StartupDelay); err != nil {
		return nil // stopped while starting up: a clean stop
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("sampleapp: %w", err)
	}
	srv := &http.Server{Handler: Handler(cfg), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "sample-app %s listening on %s (service %q slot %q instance %q)\n",
		cfg.Version, ln.Addr(), cfg.Service, cfg.Slot, cfg.Instance)
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sampleapp: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("sampleapp: shutdown: %w", err)
	}
	fmt.Fprintf(out, "sample-app %s stopped\n", cfg.Version)
	return nil
}

// Handler returns the application's HTTP handler, for tests that serve it themselves.
func Handler(cfg Config) http.Handler {
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	a := &app{cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), failFrom: cfg.failStart(time.Now())}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.root)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, cfg.Version+"\n")
	})
	return mux
}

type app struct {
	cfg      Config
	mu       sync.Mutex
	rng      *rand.Rand
	failFrom time.Time // when FailRate replaces ErrorRate; zero: never
}

// draw returns this request's extra latency and whether it fails, from one lock.
func (a *app) draw() (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.cfg.Latency
	if a.cfg.Jitter > 0 {
		d += time.Duration(a.rng.Int64N(int64(a.cfg.Jitter) + 1))
	}
	rate := a.errorRate(time.Now())
	return d, rate > 0 && a.rng.Float64() < rate
}

func (a *app) root(w http.ResponseWriter, r *http.Request) {
	delay, fail := a.draw()
	if err := sleep(r.Context(), delay); err != nil {
		return
	}
	resp := Response{Version: a.cfg.Version, Service: a.cfg.Service, Slot: a.cfg.Slot,
		Instance: a.cfg.Instance, Status: http.StatusOK}
	if fail {
		resp.Status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Sample-Version", a.cfg.Version)
	w.WriteHeader(resp.Status)
	json.NewEncoder(w).Encode(resp)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
