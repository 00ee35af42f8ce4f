package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Engine is what the API asks of the execution engine.
type Engine interface {
	// Start creates an execution of a workflow version and starts running it.
	Start(ctx context.Context, r engine.StartRequest) (store.Execution, error)
	// Decide answers the approval an execution is waiting for.
	Decide(ctx context.Context, id string, d engine.Decision) error
	// Rollback restores all traffic to the live slot and ends the execution.
	Rollback(ctx context.Context, id, by, reason string) error
	// Abort stops an execution where it is, without rolling back.
	Abort(ctx context.Context, id, by, reason string) error
	// Pause stops an execution before its next step.
	Pause(ctx context.Context, id, by string) error
	// Resume continues a paused execution.
	Resume(ctx context.Context, id, by string) error
	// Retry runs a failed step again.
	Retry(ctx context.Context, id, by string) error
}

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 4 << 20

// Deps is what the API needs to serve.
type Deps struct {
	Store  Store
	Engine Engine
	// Broker streams console events; when nil the API makes one over Store, which only
	// sees events by polling.
	Broker *events.Broker
	Logger *slog.Logger
	// Now is the clock for definitions written by the API; time.Now when nil.
	Now func() time.Time
	// Heartbeat is the interval of SSE heartbeat comments; 15s when zero.
	Heartbeat time.Duration
	// StreamsDone, when closed, ends every open event stream (without an `end` event, so
	// clients reconnect), letting a graceful shutdown finish; close it from
	// http.Server.RegisterOnShutdown.
	StreamsDone <-chan struct{}
	// StatusPoll is how often an SSE stream checks whether its execution has ended;
	// 1s when zero.
	StatusPoll time.Duration
	// Auth authenticates callers (bearer tokens, session cookies) and holds their
	// roles. Nil turns authentication off: callers name themselves with X-Sluice-User
	// and may do everything, which the server allows only on a loopback address.
	Auth *auth.Service
	// OIDC signs people in with an OpenID Connect provider (the UI's "Sign in with
	// SSO", ID tokens as bearer tokens); nil turns single sign-on off. Needs Auth.
	OIDC *auth.OIDC
	// Audit records every state-changing request; nil records nothing.
	Audit audit.Store
	// Rejections counts the rejected requests (no valid credentials, rate-limited)
	// per source and minute instead of storing one entry each; when nil the API makes
	// one over Audit. Flush it when the server stops.
	Rejections *audit.Rejections
	// Redactor masks secrets in audit summaries; secrets.Default when nil. Answers
	// and event streams always go through secrets.Default.
	Redactor *secrets.Redactor
	// DryRun, when set, checks a document of an apply with dryRun=true against the
	// systems it would deploy to (a server-side dry run on Kubernetes); its error fails
	// the apply. Nil checks nothing beyond validation.
	DryRun func(ctx context.Context, doc spec.Document) error
	// CheckSettings, when set, checks the platform, router and provider settings
	// of every environment of an apply (dry run or not) with the kinds that will
	// build them (envrun.Registry.CheckDocuments), so bad settings fail the apply
	// with their positions instead of a release; nil checks nothing beyond the spec.
	CheckSettings func(docs []spec.Document) spec.Problems
	// RateLimit bounds each API token's and web session's requests when Auth is set;
	// DefaultRateLimit when zero, none when PerSecond is negative.
	RateLimit RateLimit
	// Origins is the Host names and browser origins the API accepts; nil accepts IP
	// addresses and localhost only (NewOrigins("", nil)).
	Origins *Origins
	// AuthRecheck is how often an open event stream checks that its caller's
	// credential and role still hold (a revoked one ends the stream); 250ms when zero.
	AuthRecheck time.Duration
	// Ready reports whether the server can serve (for /readyz); the store's answer
	// to a cheap read when nil.
	Ready func(ctx context.Context) error
	// TriggerSecret resolves the secret of a trigger whose runs go to environment
	// (a Kubernetes Secret is read with that environment's credentials); nil refuses
	// every webhook.
	TriggerSecret func(ctx context.Context, environment string, ref spec.SecretRef) (string, error)
	// Deliveries refuses replayed webhooks; the Store when it implements Deliveries
	// and this is nil.
	Deliveries Deliveries
	// Pipelines runs Pipeline documents (pipelines.go); nil answers their routes 503.
	Pipelines Pipelines
	// Live reads a service back from its environment's router and platform, for what
	// the services answers call live; nil answers the stored record.
	Live LiveReader
}

// handler holds the API's dependencies for its handlers.
type handler struct {
	Deps
	log *slog.Logger
}

// New returns the API's HTTP handler.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Broker == nil {
		d.Broker = events.New(d.Store, events.WithLogger(d.Logger))
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Heartbeat <= 0 {
		d.Heartbeat = 15 * time.Second
	}
	if d.StatusPoll <= 0 {
		d.StatusPoll = time.Second
	}
	if d.AuthRecheck <= 0 {
		d.AuthRecheck = 250 * time.Millisecond
	}
	if d.Origins == nil {
		d.Origins, _ = NewOrigins("", nil) // cannot fail without flags
	}
	if d.Rejections == nil && d.Audit != nil {
		d.Rejections = audit.NewRejections(d.Audit, d.Now, d.Logger)
	}
	if ds, ok := d.Store.(Deliveries); ok && d.Deliveries == nil {
		d.Deliveries = ds
	}
	h := &handler{Deps: d, log: d.Logger}
	mux := http.NewServeMux()
	h.routes(mux)
	return h.recover(h.guard(h.audited(h.oidcRoutes(h.identify(h.rateLimited(withJSONFallback(mux)))))))
}

func (h *handler) routes(mux *http.ServeMux) {
	const p = "/api/v1"
	mux.HandleFunc("GET /healthz", h.health)
	mux.HandleFunc("GET "+p+"/healthz", h.health)
	mux.HandleFunc("GET /readyz", h.ready)
	mux.HandleFunc("POST "+p+"/apply", h.apply)
	for _, k := range []store.Kind{store.KindWorkflow, store.KindEnvironment, store.KindPipeline} {
		base := p + "/" + string(k) + "s"
		mux.HandleFunc("GET "+base, h.listDefinitions(k))
		mux.HandleFunc("GET "+base+"/{name}", h.getDefinition(k))
		mux.HandleFunc("DELETE "+base+"/{name}", h.deleteDefinition(k))
		mux.HandleFunc("GET "+base+"/{name}/versions", h.definitionHistory(k))
		mux.HandleFunc("GET "+base+"/{name}/versions/{version}", h.getDefinitionVersion(k))
	}
	mux.HandleFunc("POST "+p+"/workflows/{name}/run", h.run)
	mux.HandleFunc("GET "+p+"/executions", h.listExecutions)
	mux.HandleFunc("GET "+p+"/executions/{id}", h.getExecution)
	mux.HandleFunc("GET "+p+"/executions/{id}/events", h.events)
	mux.HandleFunc("GET "+p+"/executions/{id}/report", h.report)
	for action, fn := range h.actions() {
		mux.HandleFunc("POST "+p+"/executions/{id}/"+action, h.action(action, fn))
	}
	mux.HandleFunc("GET "+p+"/services", h.listServices)
	mux.HandleFunc("GET "+p+"/services/{environment}/{service}", h.getService)
	mux.HandleFunc("POST "+hookPrefix+"{workflow}/{trigger}", h.hook)
	mux.HandleFunc("POST "+p+"/services/{environment}/{service}/undo", h.undo)
	h.authRoutes(mux, p)
	h.pipelineRoutes(mux, p)
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
}

// ready answers 200 when the server can serve requests (its store answers), 503
// otherwise; like /healthz it needs no credentials and ignores any sent.
func (h *handler) ready(w http.ResponseWriter, r *http.Request) {
	check := h.Ready
	if check == nil {
		check = func(ctx context.Context) error {
			_, err := h.Store.ListExecutions(ctx, store.ExecutionFilter{Limit: 1})
			return err
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := check(ctx); err != nil {
		h.log.Warn("api: not ready", "err", secrets.Default.Error(err))
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable, msg: "not ready: the store does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
}

// withJSONFallback answers requests that match no route (404) or no method of a
// route (405) with the API's JSON error body instead of the mux's plain text.
func withJSONFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		switch rec.code {
		case http.StatusNotFound:
			writeError(w, &apiError{status: http.StatusNotFound, code: CodeNotFound,
				msg: "no such endpoint: " + r.Method + " " + r.URL.Path})
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
				msg: "method " + r.Method + " not allowed on " + r.URL.Path + "; allowed: " + rec.header.Get("Allow")})
		default: // redirects for unclean paths and the like
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

// headerRecorder captures what the mux's fallback handlers write.
type headerRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *headerRecorder) Header() http.Header         { return r.header }
func (r *headerRecorder) WriteHeader(code int)        { r.code = code }
func (r *headerRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// recover turns a handler panic into a 500 JSON error and a log line.
func (h *handler) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error("api: handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, &apiError{status: http.StatusInternalServerError, code: CodeInternal, msg: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
