package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/secrets"
)

// auditNote is what a handler tells the audit log about the request it serves.
type auditNote struct {
	who         Identity
	action      string
	target      string
	environment string
	summary     string
	skip        bool // nothing changed (a dry run)
}

type auditKey struct{}

// note returns the request's audit note; handlers fill it in. It is a throwaway when
// the request is not audited.
func note(ctx context.Context) *auditNote {
	if n, ok := ctx.Value(auditKey{}).(*auditNote); ok {
		return n
	}
	return &auditNote{}
}

// noteIdentity records who made an audited request.
func noteIdentity(ctx context.Context, id Identity) { note(ctx).who = id }

// noted sets the action, target and environment of the request's audit entry.
func noted(ctx context.Context, action, target, env string) *auditNote {
	n := note(ctx)
	n.action, n.target, n.environment = action, target, env
	return n
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// audited records every state-changing request, allowed or not, once it is answered.
func (h *handler) audited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.Audit == nil || !stateChanging(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		n := &auditNote{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditKey{}, n)))
		if n.skip {
			return
		}
		h.record(r, n, sw.code)
	})
}

// record appends one entry; a failure is logged, as the action has already happened.
// Rejected requests (see rejected) are only counted, per source and minute.
func (h *handler) record(r *http.Request, n *auditNote, code int) {
	if rejected(n, code) {
		h.Rejections.Add(r.RemoteAddr, n.who.User, code, r.Method, r.URL.Path)
		return
	}
	e := audit.Entry{At: h.Now().UTC(), Actor: n.who.User, Method: n.who.Method, TokenID: n.who.TokenID,
		Remote: r.RemoteAddr, Action: n.action, Target: n.target, Environment: n.environment,
		Status: code, Summary: h.redact(n.summary)}
	if e.Action == "" {
		e.Action, e.Target = r.Method, r.URL.Path
	}
	switch {
	case code < 300:
		e.Outcome = audit.OutcomeOK
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Outcome = audit.OutcomeDenied
	default:
		e.Outcome = audit.OutcomeFailed
	}
	// The request may be over; the entry must still be written.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := h.Audit.AppendAudit(ctx, &e); err != nil {
		h.log.Error("api: audit entry not written", "action", e.Action, "target", e.Target, "actor", e.Actor, "err", err)
	}
}

// rejected reports whether a request is one a stranger can send without limit: any
// request refused for want of valid credentials, and any over the rate limit.
func rejected(n *auditNote, code int) bool {
	anonymous := n.who.User == "" || n.who.User == AnonymousUser
	return code == http.StatusTooManyRequests ||
		anonymous && (code == http.StatusUnauthorized || code == http.StatusForbidden)
}

func (h *handler) redact(s string) string {
	if h.Redactor == nil {
		return secrets.Default.String(s)
	}
	return h.Redactor.String(s)
}

// listAudit serves GET /api/v1/audit: one page of the log as JSON (limit entries,
// audit.DefaultPage by default, at most audit.MaxPage) with the cursor of the next
// page, or with format=jsonl every matching entry as JSON lines, read a page at a time.
func (h *handler) listAudit(w http.ResponseWriter, r *http.Request) {
	if err := h.authorize(r, roleAdmin, allEnvironments, "reading the audit log"); err != nil {
		h.fail(w, r, err)
		return
	}
	f, err := auditFilter(r.URL.Query(), h.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		h.auditPage(w, r, f)
	case "jsonl":
		h.auditJSONL(w, r, f)
	default:
		h.fail(w, r, badRequest("format", "format=%q: want json or jsonl", format))
	}
}

// auditPage answers one page and, when it is full, the cursor of the next.
func (h *handler) auditPage(w http.ResponseWriter, r *http.Request, f audit.Filter) {
	if f.Limit == 0 {
		f.Limit = audit.DefaultPage
	}
	entries, err := h.Audit.ListAudit(r.Context(), f)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list audit: %w", err))
		return
	}
	page := AuditList{Items: entries}
	if page.Items == nil {
		page.Items = []audit.Entry{}
	}
	if len(entries) == f.Limit {
		page.Next = strconv.FormatInt(entries[len(entries)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

// auditJSONL streams the matching entries (at most limit when one is given), holding
// one page in memory at a time.
func (h *handler) auditJSONL(w http.ResponseWriter, r *http.Request, f audit.Filter) {
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	left := f.Limit
	for {
		f.Limit = audit.MaxPage
		if left > 0 {
			f.Limit = min(left, audit.MaxPage)
		}
		entries, err := h.Audit.ListAudit(r.Context(), f)
		if err == nil {
			err = audit.WriteJSONL(w, entries)
		}
		if err != nil {
			h.log.Warn("api: audit export cut off", "err", err)
			return
		}
		if len(entries) < f.Limit { // the last page
			return
		}
		if left > 0 {
			if left -= len(entries); left == 0 {
				return
			}
		}
		if f.Newest {
			f.Before = entries[len(entries)-1].Seq
		} else {
			f.After = entries[len(entries)-1].Seq
		}
	}
}

// auditFilter reads the audit query: since and until (RFC 3339 or a duration before
// now such as 24h), actor, action, environment, outcome, order (oldest, the default,
// or newest first), after, before and limit.
func auditFilter(q url.Values, now time.Time) (audit.Filter, error) {
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Environment: q.Get("environment"),
		Outcome: q.Get("outcome")}
	var err error
	if f.Since, err = timeParam(q, "since", now); err != nil {
		return f, err
	}
	if f.Until, err = timeParam(q, "until", now); err != nil {
		return f, err
	}
	switch order := q.Get("order"); order {
	case "", "oldest":
	case "newest":
		f.Newest = true
	default:
		return f, badRequest("order", "order=%q: want oldest or newest", order)
	}
	for name, dst := range map[string]*int64{"after": &f.After, "before": &f.Before} {
		if s := q.Get(name); s != "" {
			if *dst, err = strconv.ParseInt(s, 10, 64); err != nil || *dst < 0 {
				return f, badRequest(name, "%s=%q is not a non-negative integer", name, s)
			}
		}
	}
	if s := q.Get("limit"); s != "" {
		if f.Limit, err = strconv.Atoi(s); err != nil || f.Limit < 0 {
			return f, badRequest("limit", "limit=%q is not a non-negative integer", s)
		}
		if f.Limit > audit.MaxPage && q.Get("format") != "jsonl" {
			return f, badRequest("limit", "limit=%d: a page holds at most %d entries; follow next for more", f.Limit, audit.MaxPage)
		}
	}
	return f, nil
}

func timeParam(q url.Values, name string, now time.Time) (time.Time, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, badRequest(name, "%s=%q: want an RFC 3339 time or a duration such as 24h", name, s)
}
