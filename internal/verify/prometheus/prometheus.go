package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// maxPoints is the most points Prometheus returns per series of a range query.
const maxPoints = 11000

// maxBody bounds the answer read from Prometheus.
const maxBody = 32 << 20

// Provider runs PromQL against one Prometheus server.
type Provider struct {
	http    verify.HTTP
	minStep time.Duration
	headers map[string]string
}

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Redacter = (*Provider)(nil)
)

// New builds a provider from its spec: url (required); credentials token (a
// bearer token) or username and password; settings step (the smallest range
// query step, default 1s) and header.<Name> (extra request headers such as
// header.X-Scope-OrgID).
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (*Provider, error) {
	if ps.URL == "" {
		return nil, verify.FieldErrorf("url", "prometheus: needs a url")
	}
	h, err := verify.NewHTTP(ctx, "prometheus", ps, deps, maxBody)
	if err != nil {
		return nil, err
	}
	p := &Provider{http: h, minStep: time.Second, headers: map[string]string{}}
	for k, v := range ps.Settings {
		switch {
		case k == "step":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, verify.FieldErrorf("settings.step", "prometheus: setting step %q is not a positive duration", v)
			}
			p.minStep = d
		case strings.HasPrefix(k, "header."):
			p.headers[strings.TrimPrefix(k, "header.")] = v
		default:
			return nil, verify.FieldErrorf("settings."+k, "prometheus: unknown setting %q (step, header.<Name>)", k)
		}
	}
	return p, nil
}

// Redact hides the provider's credentials in text.
func (p *Provider) Redact(s string) string { return p.http.Secrets.Redact(s) }

// Check asks the server for its build information, which needs the credentials.
func (p *Provider) Check(ctx context.Context) error {
	req, err := p.request(ctx, http.MethodGet, "/api/v1/status/buildinfo", nil)
	if err != nil {
		return err
	}
	_, err = p.do(req)
	return err
}

// Query runs an instant query at the window's end, or a range query over the
// window when a sample is asked for.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	if q.Logs {
		return verify.Result{}, fmt.Errorf("prometheus: log queries: %w", verify.ErrUnsupported)
	}
	form := url.Values{"query": {q.Text}}
	path := "/api/v1/query"
	if q.Sample {
		path = "/api/v1/query_range"
		step := Step(q.Window, p.minStep)
		form.Set("start", unixString(q.Start()))
		form.Set("end", unixString(q.End))
		form.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	} else if !q.End.IsZero() {
		form.Set("time", unixString(q.End))
	}
	req, err := p.request(ctx, http.MethodPost, path, strings.NewReader(form.Encode()))
	if err != nil {
		return verify.Result{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	d, err := p.do(req)
	if err != nil {
		return verify.Result{}, err
	}
	r, err := ParseData(d.Data)
	r.Warnings = append(d.Warnings, d.Infos...)
	if err != nil {
		return r, err
	}
	return r, nil
}

// Step returns the range query step for a window: at least min, and large
// enough that the window holds fewer than Prometheus's 11,000 points.
func Step(window, min time.Duration) time.Duration {
	if min <= 0 {
		min = time.Second
	}
	need := time.Duration(math.Ceil(float64(window) / float64(maxPoints-1)))
	if need%time.Second != 0 {
		need = need.Truncate(time.Second) + time.Second
	}
	return max(min, need)
}

func unixString(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

func (p *Provider) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := p.http.NewRequest(ctx, method, p.http.URL(path).String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	p.http.Secrets.Authorise(req)
	return req, nil
}

// answer is the envelope of every Prometheus API answer.
type answer struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

// do sends a request and returns the answer's envelope, or an error that says
// what was wrong with the answer.
func (p *Provider) do(req *http.Request) (answer, error) {
	resp, body, err := p.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	var a answer
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct != "application/json" || json.Unmarshal(body, &a) != nil || a.Status == "" {
		return answer{}, verify.Unavailable(fmt.Errorf("prometheus: HTTP %d with %s instead of an API answer: %s",
			resp.StatusCode, orString(ct, "no content type"), p.Redact(verify.Snippet(body))))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return answer{}, fmt.Errorf("prometheus: not authorised (HTTP %d): %s", resp.StatusCode, p.Redact(a.Error))
	case a.Status != "success":
		return answer{}, verify.StatusError(resp, fmt.Errorf("prometheus: HTTP %d %s: %s", resp.StatusCode, orString(a.ErrorType, "error"), p.Redact(a.Error)))
	case resp.StatusCode/100 != 2:
		return answer{}, verify.StatusError(resp, fmt.Errorf("prometheus: HTTP %d", resp.StatusCode))
	}
	return a, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
