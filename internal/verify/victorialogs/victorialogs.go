package victorialogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/prometheus"
)

// maxBody bounds one answer read from VictoriaLogs.
const maxBody = 32 << 20

// Provider queries one VictoriaLogs server.
type Provider struct {
	http      verify.HTTP
	accountID string
	projectID string
	maxLines  int
}

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Redacter = (*Provider)(nil)
)

// New builds a provider from its spec: url (required); credentials token
// (bearer) or username and password (basic); settings accountID and projectID
// (the tenant headers) and maxLines (the most lines a log check reads, default
// 10000; beyond it the count is a lower bound and says so).
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (*Provider, error) {
	h, err := verify.NewHTTP(ctx, "victorialogs", ps, deps, maxBody)
	if err != nil {
		return nil, err
	}
	p := &Provider{http: h, maxLines: 10000}
	for k, v := range ps.Settings {
		switch k {
		case "accountID", "projectID":
			if _, err := strconv.ParseUint(v, 10, 32); err != nil {
				return nil, verify.FieldErrorf("settings."+k, "victorialogs: setting %s %q must be a whole number", k, v)
			}
			if k == "accountID" {
				p.accountID = v
			} else {
				p.projectID = v
			}
		case "maxLines":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, verify.FieldErrorf("settings.maxLines", "victorialogs: setting maxLines %q must be a positive count", v)
			}
			p.maxLines = n
		default:
			return nil, verify.FieldErrorf("settings."+k, "victorialogs: unknown setting %q (accountID, projectID, maxLines)", k)
		}
	}
	return p, nil
}

// Redact hides the provider's credentials in text.
func (p *Provider) Redact(s string) string { return p.http.Secrets.Redact(s) }

// Check lists the field names of the last minute, which needs a reachable server
// and valid credentials.
func (p *Provider) Check(ctx context.Context) error {
	v := url.Values{"query": {"*"}, "start": {rfc3339(time.Now().Add(-time.Minute))}}
	body, err := p.post(ctx, "/select/logsql/field_names", v)
	if err != nil {
		return err
	}
	var a struct {
		Values []json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("victorialogs: field names: not the expected JSON: %s", p.Redact(verify.Snippet(body)))
	}
	return nil
}

// Query reads a log query's lines over the window, or runs a stats query.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	if q.Logs {
		return p.lines(ctx, q)
	}
	v := url.Values{"query": {q.Text}, "start": {rfc3339(q.Start())}, "end": {rfc3339(q.End)}}
	path := "/select/logsql/stats_query"
	if q.Sample {
		path = "/select/logsql/stats_query_range"
		v.Set("step", strconv.FormatFloat(prometheus.Step(q.Window, time.Second).Seconds(), 'f', -1, 64)+"s")
	}
	body, err := p.post(ctx, path, v)
	if err != nil {
		return verify.Result{}, err
	}
	var a struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Status != "success" {
		return verify.Result{}, p.http.Unexpected("stats answer is not a successful API answer", body)
	}
	r, err := prometheus.ParseData(a.Data)
	if err != nil {
		return verify.Result{}, fmt.Errorf("victorialogs: stats answer: %w", err)
	}
	return r, nil
}

// lines reads up to maxLines matching lines of the window; no line is 0, not no
// data.
func (p *Provider) lines(ctx context.Context, q verify.Query) (verify.Result, error) {
	// end is inclusive in VictoriaLogs; stop just before it so that consecutive
	// windows do not both count a line at their boundary.
	v := url.Values{"query": {q.Text}, "start": {rfc3339(q.Start())}, "end": {rfc3339(q.End.Add(-time.Nanosecond))},
		"limit": {strconv.Itoa(p.maxLines + 1)}}
	body, err := p.post(ctx, "/select/logsql/query", v)
	if err != nil {
		return verify.Result{}, err
	}
	var r verify.Result
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), maxBody)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e struct {
			Msg *string `json:"_msg"`
		}
		if err := json.Unmarshal(line, &e); err != nil || e.Msg == nil {
			return verify.Result{}, p.http.Unexpected("a log line that is not a JSON object with _msg", line)
		}
		r.Lines = append(r.Lines, *e.Msg)
	}
	if err := sc.Err(); err != nil {
		return verify.Result{}, verify.Unavailable(fmt.Errorf("victorialogs: read lines: %w", err))
	}
	if len(r.Lines) > p.maxLines {
		r.Lines = r.Lines[:p.maxLines]
		r.Warnings = append(r.Warnings, fmt.Sprintf("more than %d matching lines; counted the first %d", p.maxLines, p.maxLines))
	}
	r.Value = float64(len(r.Lines))
	return r, nil
}

// post sends a form and returns the answer's body, or an error saying what was
// wrong with the answer (VictoriaLogs's errors are plain text).
func (p *Provider) post(ctx context.Context, path string, v url.Values) ([]byte, error) {
	req, err := p.http.NewRequest(ctx, http.MethodPost, p.http.URL(path).String(), strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p.authorise(req)
	resp, body, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("victorialogs: not authorised (HTTP %d): %s", resp.StatusCode, p.Redact(verify.Snippet(body)))
	case resp.StatusCode/100 != 2:
		return nil, p.http.Failed(resp, verify.Snippet(body))
	case looksLikeHTML(body):
		return nil, p.http.Unexpected(fmt.Sprintf("HTTP %d with an HTML page, not an API answer", resp.StatusCode), body)
	}
	return body, nil
}

func (p *Provider) authorise(req *http.Request) {
	req.Header.Set("Accept", "application/json")
	if p.accountID != "" {
		req.Header.Set("AccountID", p.accountID)
	}
	if p.projectID != "" {
		req.Header.Set("ProjectID", p.projectID)
	}
	p.http.Secrets.Authorise(req)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func looksLikeHTML(b []byte) bool {
	s := bytes.TrimSpace(b)
	return len(s) > 0 && s[0] == '<'
}
