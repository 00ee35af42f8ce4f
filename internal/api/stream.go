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
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		h.stream(w, r, ex, after)
		return
	}
	limit := defaultPageLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			h.fail(w, r, badRequest("limit", "limit=%q must be an integer from 1 to %d", s, maxPageLimit))
			return
		}
		limit = n
	}
	evs, err := h.Store.Events(r.Context(), id, after, limit)
	if err != nil {
		h.fail(w, r, executionError(id, err))
		return
	}
	page := EventPage{Items: make([]Event, 0, len(evs)), Next: after, Status: ex.Status}
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

// stream sends the backlog after `after`, then live events, then `event: end` once the
// execution is terminal and every stored event was sent.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, ex store.Execution, after int64) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	last, err := h.pump(ctx, sw, ex, after, func(ctx context.Context) error { return h.stillAllowed(r, ex.Environment) })
	if err != nil && ctx.Err() == nil {
		ae := toAPIError(err)
		if ae.status >= 500 {
			h.log.Warn("api: event stream ended early", "execution", ex.ID, "last", last, "err", err)
		}
		_ = sw.write("event: error\ndata: %s\n\n", mustJSON(ErrorDetail{Code: ae.code, Message: ae.msg}))
	}
}

// stillAllowed checks again, while a stream is open, that the caller's credential
// (token, session) is still valid and that they still hold viewer in env: a revoked
// token, session or role ends the stream.
func (h *handler) stillAllowed(r *http.Request, env string) error {
	if h.Auth == nil {
		return nil
	}
	id, err := h.authenticate(r)
	if err != nil {
		return err
	}
	r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
	return h.authorize(r, roleViewer, env, "reading the console of execution "+r.PathValue("id"))
}

// pump sends events until the execution ends, the client leaves, the server shuts
// down, or recheck (run every AuthRecheck) fails.
func (h *handler) pump(ctx context.Context, sw *sseWriter, ex store.Execution, last int64, recheck func(context.Context) error) (int64, error) {
	if err := sw.write("retry: 2000\n\n"); err != nil {
		return last, err
	}
	if ex.Status.Terminal() {
		return h.finish(ctx, sw, ex, last)
	}
	ch, sub := h.Broker.Subscribe(ctx, ex.ID, last)
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
			if err := recheck(ctx); err != nil {
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
			last, check = e.Seq, events.Type(e.Type) == events.TypeStatus
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
		cur, err := h.Store.GetExecution(ctx, ex.ID)
		if err != nil {
			return last, fmt.Errorf("check status: %w", err)
		}
		if cur.Status.Terminal() {
			return h.finish(ctx, sw, cur, last)
		}
	}
}

// finish sends what the store holds after last, then the end event. The engine writes
// an execution's terminal status in the same commit as its events, so nothing follows.
func (h *handler) finish(ctx context.Context, sw *sseWriter, ex store.Execution, last int64) (int64, error) {
	for {
		evs, err := h.Store.Events(ctx, ex.ID, last, defaultPageLimit)
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
	end := StreamEnd{Status: ex.Status, Reason: ex.Reason, Last: last}
	return last, sw.write("event: end\ndata: %s\n\n", mustJSON(end))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{}`)
	}
	return secrets.Default.Bytes(b)
}
