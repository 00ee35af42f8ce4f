package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/store"
)

// Event page sizes.
const (
	defaultPageLimit = 500
	maxPageLimit     = 5000
)

// events serves an execution's console: a JSON page, or a Server-Sent Events stream
// when the client accepts text/event-stream.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	after, err := afterParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ex, err := h.execution(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.authorizeExecution(r, roleViewer, ex, "reading the console of execution "+id); err != nil {
		h.fail(w, r, err)
		return
	}
	f := h.executionFeed(r, ex)
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		h.stream(w, r, f, ex.Status, ex.Reason, after)
		return
	}
	h.page(w, r, f, ex.Status, after)
}

// page answers one JSON page of f's stored events after `after` (?limit=, default 500).
func (h *handler) page(w http.ResponseWriter, r *http.Request, f feed, status store.Status, after int64) {
	limit := defaultPageLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			h.fail(w, r, badRequest("limit", "limit=%q must be an integer from 1 to %d", s, maxPageLimit))
			return
		}
		limit = n
	}
	evs, err := f.stored(r.Context(), after, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page := EventPage{Items: make([]Event, 0, len(evs)), Next: after, Status: status}
	for _, e := range evs {
		page.Items = append(page.Items, eventOf(e))
		page.Next = e.Seq
	}
	writeJSON(w, http.StatusOK, page)
}

// afterParam is where a reader resumes: Last-Event-ID (sent by a reconnecting SSE
// client) wins over ?after=.
func afterParam(r *http.Request) (int64, error) {
	field, s := "after", r.URL.Query().Get("after")
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		field, s = "Last-Event-ID", v
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(field, "%s=%q is not a non-negative integer", field, s)
	}
	return n, nil
}

// sseWriter writes Server-Sent Events, flushing each one.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (s *sseWriter) write(format string, args ...any) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(30 * time.Second)) // unsupported writers ignore it
	if _, err := fmt.Fprintf(s.w, format, args...); err != nil {
		return fmt.Errorf("sse write: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("sse flush: %w", err)
	}
	return nil
}

func (s *sseWriter) event(e store.Event) error {
	b, err := json.Marshal(eventOf(e))
	if err != nil {
		return fmt.Errorf("sse encode event %d: %w", e.Seq, err)
	}
	return s.write("id: %d\ndata: %s\n\n", e.Seq, secrets.Default.Bytes(b))
}

// feed is what an event stream follows: an execution's console, or a pipeline run's
// log (pipelineFeed).
type feed struct {
	what string // "execution" or "pipeline run", for logs
	id   string
	// subscribe streams the stored events after `after`, then the live ones.
	subscribe func(ctx context.Context, after int64) (<-chan store.Event, *events.Subscription)
	// stored reads up to limit stored events after `after`.
	stored func(ctx context.Context, after int64, limit int) ([]store.Event, error)
	// state reads the current status and its reason.
	state func(ctx context.Context) (store.Status, string, error)
	// changes reports whether an event may have changed the status.
	changes func(e store.Event) bool
	// recheck runs every AuthRecheck; an error ends the stream.
	recheck func(ctx context.Context) error
}

// executionFeed is an execution's console, for the caller of r.
func (h *handler) executionFeed(r *http.Request, ex store.Execution) feed {
	return feed{what: "execution", id: ex.ID,
		subscribe: func(ctx context.Context, after int64) (<-chan store.Event, *events.Subscription) {
			return h.Broker.Subscribe(ctx, ex.ID, after)
		},
		stored: func(ctx context.Context, after int64, limit int) ([]store.Event, error) {
			evs, err := h.Store.Events(ctx, ex.ID, after, limit)
			return evs, executionError(ex.ID, err)
		},
		state: func(ctx context.Context) (store.Status, string, error) {
			cur, err := h.Store.GetExecution(ctx, ex.ID)
			return cur.Status, cur.Reason, err
		},
		changes: func(e store.Event) bool { return events.Type(e.Type) == events.TypeStatus },
		recheck: func(ctx context.Context) error {
			return h.stillAllowed(r, "reading the console of execution "+ex.ID, ex.Environment)
		},
	}
}

// stream sends the backlog after `after`, then live events, then `event: end` once
// what f follows is terminal (status is its status now) and every stored event was sent.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, f feed, status store.Status, reason string, after int64) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	last, err := h.pump(ctx, sw, f, status, reason, after)
	if err != nil && ctx.Err() == nil {
		ae := toAPIError(err)
		if ae.status >= 500 {
			h.log.Warn("api: event stream ended early", f.what, f.id, "last", last, "err", err)
		}
		_ = sw.write("event: error\ndata: %s\n\n", mustJSON(ErrorDetail{Code: ae.code, Message: ae.msg}))
	}
}

// stillAllowed checks again, while a stream is open, that the caller's credential
// (token, session) is still valid and that they still hold viewer in every one of
// envs: a revoked token, session or role ends the stream.
func (h *handler) stillAllowed(r *http.Request, action string, envs ...string) error {
	if h.Auth == nil {
		return nil
	}
	id, err := h.authenticate(r)
	if err != nil {
		return err
	}
	r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
	for _, env := range envs {
		if err := h.authorize(r, roleViewer, env, action); err != nil {
			return err
		}
	}
	return nil
}

// pump sends events until what f follows ends, the client leaves, the server shuts
// down, or f.recheck (run every AuthRecheck) fails.
func (h *handler) pump(ctx context.Context, sw *sseWriter, f feed, status store.Status, reason string, last int64) (int64, error) {
	if err := sw.write("retry: 2000\n\n"); err != nil {
		return last, err
	}
	if status.Terminal() {
		return h.finish(ctx, sw, f, status, reason, last)
	}
	ch, sub := f.subscribe(ctx, last)
	beat := time.NewTicker(h.Heartbeat)
	defer beat.Stop()
	poll := time.NewTicker(h.StatusPoll)
	defer poll.Stop()
	rights := time.NewTicker(h.AuthRecheck)
	defer rights.Stop()
	for {
		check := false
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-rights.C:
			if err := f.recheck(ctx); err != nil {
				return last, err
			}
		case <-h.StreamsDone:
			return last, nil
		case e, ok := <-ch:
			if !ok {
				return last, sub.Err()
			}
			if err := sw.event(e); err != nil {
				return last, err
			}
			last, check = e.Seq, f.changes(e)
		case <-beat.C:
			if err := sw.write(": heartbeat\n\n"); err != nil {
				return last, err
			}
		case <-poll.C:
			check = true
		}
		if !check {
			continue
		}
		status, reason, err := f.state(ctx)
		if err != nil {
			return last, fmt.Errorf("check status: %w", err)
		}
		if status.Terminal() {
			return h.finish(ctx, sw, f, status, reason, last)
		}
	}
}

// finish sends what the store holds after last, then the end event. The engine (and
// the pipeline runner) writes the terminal status in the same commit as its events,
// so nothing follows.
func (h *handler) finish(ctx context.Context, sw *sseWriter, f feed, status store.Status, reason string, last int64) (int64, error) {
	for {
		evs, err := f.stored(ctx, last, defaultPageLimit)
		if err != nil {
			return last, fmt.Errorf("read events after %d: %w", last, err)
		}
		for _, e := range evs {
			if err := sw.event(e); err != nil {
				return last, err
			}
			last = e.Seq
		}
		if len(evs) < defaultPageLimit {
			break
		}
	}
	end := StreamEnd{Status: status, Reason: reason, Last: last}
	return last, sw.write("event: end\ndata: %s\n\n", mustJSON(end))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{}`)
	}
	return secrets.Default.Bytes(b)
}
