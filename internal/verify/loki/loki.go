package loki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/prometheus"
)

// maxBody bounds one answer read from Loki.
const maxBody = 32 << 20

// Provider queries one Loki server.
type Provider struct {
	http     verify.HTTP
	tenant   string
	pageSize int
	maxLines int
}

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Redacter = (*Provider)(nil)
)

// New builds a provider from its spec: url (required); credentials token
// (bearer) or username and password (basic); settings tenant (X-Scope-OrgID),
// pageSize (lines per request, default 1000, at most Loki's default
// max_entries_limit_per_query of 5000) and maxLines (the most lines a log check
// reads, default 10000; beyond it the count is a lower bound and says so).
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (*Provider, error) {
	h, err := verify.NewHTTP(ctx, "loki", ps, deps, maxBody)
	if err != nil {
		return nil, err
	}
	p := &Provider{http: h, pageSize: 1000, maxLines: 10000}
	for k, v := range ps.Settings {
		switch k {
		case "tenant":
			p.tenant = v
		case "pageSize", "maxLines":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || (k == "pageSize" && n > 5000) {
				return nil, verify.FieldErrorf("settings."+k, "loki: setting %s %q must be a positive count (pageSize at most 5000)", k, v)
			}
			if k == "pageSize" {
				p.pageSize = n
			} else {
				p.maxLines = n
			}
		default:
			return nil, verify.FieldErrorf("settings."+k, "loki: unknown setting %q (tenant, pageSize, maxLines)", k)
		}
	}
	return p, nil
}

// Redact hides the provider's credentials in text.
func (p *Provider) Redact(s string) string { return p.http.Secrets.Redact(s) }

// Check lists label names, which needs a reachable Loki and valid credentials.
func (p *Provider) Check(ctx context.Context) error {
	_, err := p.get(ctx, "/loki/api/v1/labels", url.Values{})
	return err
}

// Query counts a log query's lines over the window, or runs a metric query.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	if q.Logs {
		return p.countLines(ctx, q)
	}
	v := url.Values{"query": {q.Text}}
	path := "/loki/api/v1/query"
	if q.Sample {
		path = "/loki/api/v1/query_range"
		v.Set("start", nanos(q.Start()))
		v.Set("end", nanos(q.End))
		v.Set("step", strconv.FormatFloat(prometheus.Step(q.Window, time.Second).Seconds(), 'f', -1, 64))
	} else {
		v.Set("time", nanos(q.End))
	}
	d, err := p.get(ctx, path, v)
	if err != nil {
		return verify.Result{}, err
	}
	if d.ResultType == "streams" {
		return verify.Result{}, errors.New("loki: a log query in a metric check; use a log check, or a metric query such as sum(count_over_time(...))")
	}
	r, err := prometheus.ParseData(d.raw)
	if err != nil {
		return verify.Result{}, fmt.Errorf("loki: metric query answer: %w", err)
	}
	return r, nil
}

// stream is one labelled stream of a log query answer.
type stream struct {
	Values [][2]string `json:"values"`
}

// countLines pages forward through the window's matching lines.
func (p *Provider) countLines(ctx context.Context, q verify.Query) (verify.Result, error) {
	start, end := q.Start().UnixNano(), q.End.UnixNano()
	var lines []string
	var r verify.Result
	for page := 0; ; page++ {
		if page*p.pageSize >= p.maxLines {
			r.Warnings = append(r.Warnings, fmt.Sprintf("more than %d matching lines; counted the first %d", p.maxLines, len(lines)))
			break
		}
		v := url.Values{"query": {q.Text}, "start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)},
			"limit": {strconv.Itoa(p.pageSize)}, "direction": {"forward"}}
		d, err := p.get(ctx, "/loki/api/v1/query_range", v)
		if err != nil {
			return verify.Result{}, err
		}
		got, last, err := entries(d)
		if err != nil {
			return verify.Result{}, err
		}
		lines = append(lines, got...)
		if len(got) < p.pageSize {
			break
		}
		start = last + 1
	}
	r.Value, r.Lines = float64(len(lines)), lines
	return r, nil
}

// entries reads a streams answer: its lines (streams merged) and the latest
// timestamp.
func entries(d data) ([]string, int64, error) {
	if d.ResultType != "streams" {
		return nil, 0, fmt.Errorf("loki: a log check needs a log query, and this one gives %s (drop the metric function)", d.ResultType)
	}
	var ss []stream
	if err := json.Unmarshal(d.Result, &ss); err != nil {
		return nil, 0, fmt.Errorf("loki: streams: %w", err)
	}
	var lines []string
	var last int64
	for _, s := range ss {
		for _, e := range s.Values {
			ts, err := strconv.ParseInt(e[0], 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("loki: entry timestamp %q: %w", e[0], err)
			}
			last = max(last, ts)
			lines = append(lines, e[1])
		}
	}
	return lines, last, nil
}

// data is the data of a Loki query answer.
type data struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
	raw        json.RawMessage
}

// get sends a GET and returns the answer's data, or an error saying what was
// wrong with the answer (Loki's errors are plain text).
func (p *Provider) get(ctx context.Context, path string, v url.Values) (data, error) {
	u := p.http.URL(path)
	u.RawQuery = v.Encode()
	req, err := p.http.NewRequest(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return data{}, err
	}
	p.authorise(req)
	resp, body, err := p.http.Do(req)
	if err != nil {
		return data{}, err
	}
	if resp.StatusCode/100 != 2 {
		return data{}, p.http.Failed(resp, verify.Snippet(body))
	}
	var a struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Status != "success" {
		return data{}, p.http.Unexpected(fmt.Sprintf("HTTP %d without a successful API answer", resp.StatusCode), body)
	}
	d := data{raw: a.Data}
	if path != "/loki/api/v1/labels" {
		if err := json.Unmarshal(a.Data, &d); err != nil || d.ResultType == "" {
			return data{}, p.http.Unexpected("answer without a result type", body)
		}
	}
	return d, nil
}

func (p *Provider) authorise(req *http.Request) {
	req.Header.Set("Accept", "application/json")
	if p.tenant != "" {
		req.Header.Set("X-Scope-OrgID", p.tenant)
	}
	p.http.Secrets.Authorise(req)
}

func nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
