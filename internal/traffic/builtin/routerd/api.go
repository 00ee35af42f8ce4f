package routerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
)

// StateView is the answer of GET /v1/state: who serves, with which settings, and
// the state in force.
type StateView struct {
	PID      int           `json:"pid"`
	Settings Settings      `json:"settings"`
	Addr     string        `json:"addr,omitempty"` // the listen address while a service is ensured
	State    builtin.State `json:"state"`
}

// apiError is the body of an error answer.
type apiError struct {
	Error string `json:"error"`
	Kind  string `json:"kind,omitempty"` // not-ensured, address-taken, handing-over
}

// peerKey carries a connection's peer check into its requests.
type peerKey struct{}

// serveAPI serves the admin API on ln.
func (d *daemon) serveAPI(ln *net.UnixListener) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", d.getState)
	mux.HandleFunc("POST /v1/ensure", d.write(d.ensure))
	mux.HandleFunc("PUT /v1/weights", d.write(d.setWeights))
	mux.HandleFunc("GET /v1/weights", d.getWeights)
	mux.HandleFunc("PUT /v1/endpoints", d.write(d.setEndpoints))
	mux.HandleFunc("POST /v1/release", d.write(d.release))
	mux.HandleFunc("GET /v1/metrics", d.getMetrics)
	mux.HandleFunc("GET /v1/instances", d.getInstances)
	srv := &http.Server{
		Handler:           authorised(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			uc, ok := c.(*net.UnixConn)
			if !ok {
				return context.WithValue(ctx, peerKey{}, errors.New("not a unix connection"))
			}
			return context.WithValue(ctx, peerKey{}, checkPeer(uc))
		},
	}
	go srv.Serve(ln) //nolint:errcheck // returns at Close
	return srv
}

// authorised refuses requests from peers checkPeer did not admit.
func authorised(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err, _ := r.Context().Value(peerKey{}).(error); err != nil {
			writeErr(w, http.StatusForbidden, "", err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// write wraps a changing handler: refused while the listeners are handed over.
func (d *daemon) write(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.frozen.TryRLock() {
			writeErr(w, http.StatusServiceUnavailable, "handing-over", errors.New("router is handing over to a new process; retry"))
			return
		}
		defer d.frozen.RUnlock()
		h(w, r)
	}
}

func (d *daemon) getState(w http.ResponseWriter, r *http.Request) {
	v := StateView{PID: os.Getpid(), Settings: d.opts.Settings, State: d.r.State()}
	for name := range v.State.Services {
		v.Addr = d.r.Addr(name)
		break
	}
	writeJSON(w, v)
}

// EnsureRequest is the body of POST /v1/ensure: the route and the endpoints the
// service starts with, so it never serves without them.
type EnsureRequest struct {
	// Route is the route of the service.
	Route traffic.Route `json:"route"`
	// Endpoints are each slot's instances.
	Endpoints map[platform.Slot][]string `json:"endpoints,omitempty"`
}

func (d *daemon) ensure(w http.ResponseWriter, r *http.Request) {
	var req EnsureRequest
	if !readJSON(w, r, &req) {
		return
	}
	for slot, eps := range req.Endpoints {
		if !slot.Valid() {
			writeErr(w, http.StatusBadRequest, "", fmt.Errorf("endpoints of slot %q: want blue or green", slot))
			return
		}
		d.setSource(platform.SlotRef{Service: req.Route.Service.Service, Slot: slot}, eps)
	}
	answer(w, nil, d.r.Ensure(r.Context(), req.Route))
}

func (d *daemon) setWeights(w http.ResponseWriter, r *http.Request) {
	var wt traffic.Weights
	if !readJSON(w, r, &wt) {
		return
	}
	q := r.URL.Query()
	answer(w, nil, d.r.SetWeights(r.Context(), traffic.ServiceRef{Service: q.Get("service")}, wt, q.Get("key")))
}

func (d *daemon) getWeights(w http.ResponseWriter, r *http.Request) {
	wt, err := d.r.Weights(r.Context(), traffic.ServiceRef{Service: r.URL.Query().Get("service")})
	answer(w, wt, err)
}

func (d *daemon) setEndpoints(w http.ResponseWriter, r *http.Request) {
	var eps []string
	if !readJSON(w, r, &eps) {
		return
	}
	q := r.URL.Query()
	slot := platform.Slot(q.Get("slot"))
	if !slot.Valid() {
		writeErr(w, http.StatusBadRequest, "", fmt.Errorf("slot %q: want blue or green", slot))
		return
	}
	ref := platform.SlotRef{Service: q.Get("service"), Slot: slot}
	if d.r.Addr(ref.Service) == "" {
		writeErr(w, http.StatusNotFound, "not-ensured", fmt.Errorf("%s: %w", ref.Service, builtin.ErrNotEnsured))
		return
	}
	d.setSource(ref, eps)
	d.r.EndpointsChanged(ref, eps)
	answer(w, nil, nil)
}

func (d *daemon) release(w http.ResponseWriter, r *http.Request) {
	answer(w, nil, d.r.Release(r.Context(), traffic.ServiceRef{Service: r.URL.Query().Get("service")}))
}

func (d *daemon) getMetrics(w http.ResponseWriter, r *http.Request) {
	m, err := d.r.Metrics(r.URL.Query().Get("service"))
	answer(w, m, err)
}

func (d *daemon) getInstances(w http.ResponseWriter, r *http.Request) {
	in, err := d.r.Instances(r.URL.Query().Get("service"))
	answer(w, in, err)
}

// answer writes v, or err with its status and kind.
func answer(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, v)
	case errors.Is(err, builtin.ErrNotEnsured):
		writeErr(w, http.StatusNotFound, "not-ensured", err)
	case errors.Is(err, builtin.ErrAddressTaken):
		writeErr(w, http.StatusConflict, "address-taken", err)
	default:
		writeErr(w, http.StatusBadRequest, "", err)
	}
}

// readJSON decodes the request body into v, answering 400 when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, "", fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

func writeErr(w http.ResponseWriter, status int, kind string, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Error: err.Error(), Kind: kind}) //nolint:errcheck // the client went away
}
