package proxy

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Mode selects what the proxy splits: HTTP requests or TCP connections.
type Mode string

// The proxy modes.
const (
	// ModeHTTP splits requests (HTTP/1.1, HTTP/2, gRPC, WebSocket).
	ModeHTTP Mode = "http"
	// ModeTCP splits connections: each new connection picks a slot by weight.
	ModeTCP Mode = "tcp"
)

// Config is the static configuration of a Proxy. Weights, endpoints, rules and
// mirroring change at runtime through the Proxy's setters, not through Config.
// The zero value is usable: every zero field means the documented default.
type Config struct {
	// Service names the service in metric labels and logs.
	Service string

	// Mode is ModeHTTP (the default when empty) or ModeTCP.
	Mode Mode

	// TLS, when set, lets the listener accept TLS connections next to plaintext ones
	// (the first byte decides). ALPN "h2" is served as HTTP/2, anything else as
	// HTTP/1.1. Certificates are the caller's; the proxy adds its NextProtos.
	// Ignored in ModeTCP.
	TLS *tls.Config

	// UpstreamHTTP2 says the instances speak HTTP/2 without TLS (h2c). HTTP/2 and
	// gRPC requests are then forwarded over h2c. gRPC requests (content-type
	// application/grpc*) always use h2c, whatever this says; other requests arriving
	// over HTTP/2 use HTTP/1.1 upstream when it is false.
	UpstreamHTTP2 bool

	// DialTimeout bounds connecting to an instance. Default 2s.
	DialTimeout time.Duration

	// ResponseHeaderTimeout bounds the wait for an instance's response headers; the
	// body may stream for as long as it likes. Zero means no limit.
	ResponseHeaderTimeout time.Duration

	// IdleTimeout closes idle client and upstream keep-alive connections after this
	// long. Default 90s.
	IdleTimeout time.Duration

	// MaxConnsPerInstance caps the upstream HTTP/1.1 connections per instance.
	// Default 1024.
	MaxConnsPerInstance int

	// FailureThreshold is the number of consecutive 5xx responses after which an
	// instance is ejected. A connection error ejects at once. 5xx ejection never takes
	// out the last healthy instance of a slot, so a uniformly failing slot stays
	// visible to verification instead of being hidden by fallback. Default 5;
	// negative disables 5xx ejection.
	FailureThreshold int

	// EjectDuration is how long an ejected instance stays out before it is probed.
	// Default 2s.
	EjectDuration time.Duration

	// ProbeInterval is how often ejected instances whose EjectDuration has passed are
	// probed with a TCP connect (or a GET of HealthPath). Default 500ms.
	ProbeInterval time.Duration

	// HealthPath, when set, makes the probe an HTTP GET that must answer 2xx or 3xx;
	// otherwise a TCP connect is enough.
	HealthPath string

	// StickyCookie, when set, enables sticky sessions: the proxy sets a cookie of
	// this name to the slot a client first got, and honours it while that slot has
	// weight > 0 and a healthy instance. SetSticky changes it at runtime.
	StickyCookie string

	// MirrorQueue bounds the mirrored requests waiting to be sent; a request that
	// finds the queue full is not mirrored (and is counted). Default 256.
	MirrorQueue int

	// MirrorWorkers is the number of goroutines sending mirrored requests. Default 2.
	MirrorWorkers int

	// MirrorMaxBody is the largest request body that is mirrored; requests with a
	// larger or streamed body are not. Default 64 KiB.
	MirrorMaxBody int

	// DisableEventLoop serves HTTP/1.1 with the fasthttp path only, also on Linux
	// where plain HTTP/1.1 connections otherwise start on the event loops.
	DisableEventLoop bool

	// DisableCoalescing makes the event loops look for new events at once after
	// every round, also while eight exchanges or more are in flight, when they
	// otherwise let events gather for a few microseconds (loop.coalesce); for
	// measuring what coalescing saves.
	DisableCoalescing bool

	// Logger receives errors the proxy cannot return (upstream failures, ejections).
	// Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeHTTP
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 90 * time.Second
	}
	if c.MaxConnsPerInstance <= 0 {
		c.MaxConnsPerInstance = 1024
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = 5
	}
	if c.EjectDuration <= 0 {
		c.EjectDuration = 2 * time.Second
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 500 * time.Millisecond
	}
	if c.MirrorQueue <= 0 {
		c.MirrorQueue = 256
	}
	if c.MirrorWorkers <= 0 {
		c.MirrorWorkers = 2
	}
	if c.MirrorMaxBody <= 0 {
		c.MirrorMaxBody = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
