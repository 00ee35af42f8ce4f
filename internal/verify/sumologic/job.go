package sumologic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/verify"
)

// Search job states.
const (
	stateDone        = "DONE GATHERING RESULTS"
	stateCancelled   = "CANCELLED"
	stateForcePaused = "FORCE PAUSED"
)

// maxBody bounds one answer read.
const maxBody = 32 << 20

// session is one search job's conversation: its own cookie jar, because Sumo
// Logic ties a job to the node that created it through cookies.
type session struct {
	p    *Provider
	http verify.HTTP
}

func (p *Provider) newSession() *session {
	jar, _ := cookiejar.New(nil) // never fails without options
	c := *p.http.Client
	c.Jar = jar
	h := p.http
	h.Client = &c
	return &session{p: p, http: h}
}

// create starts a search job and returns its URL (from the Location header).
func (s *session) create(ctx context.Context, q verify.Query) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"query": q.Text, "from": q.Start().UnixMilli(), "to": q.End.UnixMilli(), "timeZone": "UTC",
		"byReceiptTime": false, "requiresRawMessages": q.Logs,
	})
	resp, err := s.call(ctx, http.MethodPost, s.p.base+"/api/v1/search/jobs", body, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	loc := resp.location
	if strings.HasPrefix(loc, "/") {
		loc = s.p.base + loc
	}
	if loc == "" {
		var created struct{ ID string }
		if json.Unmarshal(resp.body, &created) != nil || created.ID == "" {
			return "", fmt.Errorf("sumologic: search job created without a Location or id")
		}
		loc = s.p.base + "/api/v1/search/jobs/" + created.ID
	}
	return loc, nil
}

// status is a search job's state.
type status struct {
	State           string   `json:"state"`
	MessageCount    int      `json:"messageCount"`
	RecordCount     int      `json:"recordCount"`
	PendingErrors   []string `json:"pendingErrors"`
	PendingWarnings []string `json:"pendingWarnings"`
}

// wait polls the job until it is done; polling also keeps it alive (Sumo Logic
// cancels a job that is not polled for a while). Each status holds the warnings
// that accumulated since the previous one, so the status returned carries those
// of every poll, each once, in the order they came.
func (s *session) wait(ctx context.Context, job string) (status, error) {
	var warnings []string
	seen := map[string]bool{}
	for {
		resp, err := s.call(ctx, http.MethodGet, job, nil, http.StatusOK)
		if err != nil {
			return status{}, err
		}
		var st status
		if err := json.Unmarshal(resp.body, &st); err != nil || st.State == "" {
			return status{}, verify.Unavailable(fmt.Errorf("sumologic: job status is not JSON with a state: %s", s.p.Redact(verify.Snippet(resp.body))))
		}
		for _, w := range st.PendingWarnings {
			if !seen[w] {
				seen[w] = true
				warnings = append(warnings, w)
			}
		}
		st.PendingWarnings = warnings
		switch {
		case len(st.PendingErrors) > 0:
			return st, fmt.Errorf("sumologic: search failed: %s", s.p.Redact(strings.Join(st.PendingErrors, "; ")))
		case st.State == stateCancelled:
			return st, fmt.Errorf("sumologic: the search job was cancelled")
		case st.State == stateDone || st.State == stateForcePaused:
			return st, nil
		}
		if err := verify.Sleep(ctx, s.p.poll); err != nil {
			return st, verify.Unavailable(fmt.Errorf("sumologic: search still %s: %w", strings.ToLower(st.State), err))
		}
	}
}

// records reads the job's one record.
func (s *session) records(ctx context.Context, job string, n int) (verify.Result, error) {
	if n == 0 {
		return verify.Result{}, fmt.Errorf("sumologic: no records: %w", verify.ErrNoData)
	}
	if n > 1 {
		return verify.Result{}, fmt.Errorf("sumologic: the query gave %d records; aggregate to one row (e.g. | count)", n)
	}
	resp, err := s.call(ctx, http.MethodGet, job+"/records?offset=0&limit=1", nil, http.StatusOK)
	if err != nil {
		return verify.Result{}, err
	}
	var page struct {
		Records []struct {
			Map map[string]string `json:"map"`
		} `json:"records"`
	}
	if err := json.Unmarshal(resp.body, &page); err != nil || len(page.Records) != 1 {
		return verify.Result{}, verify.Unavailable(fmt.Errorf("sumologic: records answer without its one record: %s", s.p.Redact(verify.Snippet(resp.body))))
	}
	return s.p.value(page.Records[0].Map)
}

// messages pages through the job's messages, keeping their raw lines.
func (s *session) messages(ctx context.Context, job string, n int) (verify.Result, error) {
	r := verify.Result{Value: float64(n)}
	for offset := 0; offset < min(n, s.p.maxLines); offset += s.p.pageSize {
		u := fmt.Sprintf("%s/messages?offset=%d&limit=%d", job, offset, min(s.p.pageSize, s.p.maxLines-offset))
		resp, err := s.call(ctx, http.MethodGet, u, nil, http.StatusOK)
		if err != nil {
			return verify.Result{}, err
		}
		var page struct {
			Messages []struct {
				Map map[string]string `json:"map"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(resp.body, &page); err != nil || page.Messages == nil {
			return verify.Result{}, verify.Unavailable(fmt.Errorf("sumologic: messages answer is not a page of messages: %s", s.p.Redact(verify.Snippet(resp.body))))
		}
		for _, m := range page.Messages {
			r.Lines = append(r.Lines, m.Map["_raw"])
		}
		if len(page.Messages) == 0 {
			break
		}
	}
	if n > s.p.maxLines {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d messages; read the first %d", n, s.p.maxLines))
	}
	return r, nil
}

// remove deletes the job, best effort, even when the query's context ended.
func (s *session) remove(job string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.call(ctx, http.MethodDelete, job, nil, http.StatusOK)
}

// answer is a successful response.
type answer struct {
	body     []byte
	location string
}

// call sends one request and returns the answer when its status is want. The
// provider's client retries 429s as their Retry-After says while the query's
// time allows, and paces requests to Sumo Logic's documented limits.
func (s *session) call(ctx context.Context, method, u string, body []byte, want int) (answer, error) {
	a, resp, err := s.once(ctx, method, u, body)
	if err != nil {
		return answer{}, err
	}
	switch status := resp.StatusCode; {
	case status == want || (want == http.StatusOK && status == http.StatusNoContent):
		return a, nil
	case status == http.StatusTooManyRequests:
		return answer{}, verify.StatusError(resp, fmt.Errorf("sumologic: rate limited (HTTP 429) for longer than the query may take: %s", s.p.Redact(message(a.body))))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return answer{}, fmt.Errorf("sumologic: not authorised (HTTP %d): %s", status, s.p.Redact(message(a.body)))
	case status/100 == 2:
		return answer{}, verify.Unavailable(fmt.Errorf("sumologic: %s %s: HTTP %d instead of %d: %s", method, pathOf(u), status, want, s.p.Redact(message(a.body))))
	default:
		return answer{}, verify.StatusError(resp, fmt.Errorf("sumologic: %s %s: HTTP %d: %s", method, pathOf(u), status, s.p.Redact(message(a.body))))
	}
}

// once sends one request and reads its answer.
func (s *session) once(ctx context.Context, method, u string, body []byte) (answer, *http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := s.http.NewRequest(ctx, method, u, rd)
	if err != nil {
		return answer{}, nil, err
	}
	req.SetBasicAuth(s.p.id, s.p.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, b, err := s.http.Do(req)
	if err != nil {
		return answer{}, nil, err
	}
	return answer{body: b, location: resp.Header.Get("Location")}, resp, nil
}

// message returns Sumo Logic's error message ({"code": ..., "message": ...}) or a
// snippet of the body.
func message(b []byte) string {
	var e struct{ Code, Message string }
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return strings.TrimSpace(e.Code + ": " + e.Message)
	}
	return verify.Snippet(b)
}

func pathOf(u string) string {
	if i := strings.Index(u, "/api/"); i >= 0 {
		return u[i:]
	}
	return u
}
