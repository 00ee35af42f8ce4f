package datadog

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// maxBody bounds the answer read.
const maxBody = 32 << 20

// Provider queries Datadog's metrics API.
type Provider struct {
	base           string
	http           verify.HTTP
	secrets        verify.Secrets
	apiKey, appKey string
}

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Redacter = (*Provider)(nil)
)

// New builds a provider from its spec: credentials apiKey and appKey (required);
// settings.site (datadoghq.com by default; datadoghq.eu, us3.datadoghq.com,
// us5.datadoghq.com, ap1.datadoghq.com, ddog-gov.com) or a url that replaces the
// site's API address.
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (*Provider, error) {
	sec, err := deps.ResolveSecrets(ctx, ps.Credentials)
	if err != nil {
		return nil, fmt.Errorf("datadog: %w", err)
	}
	p := &Provider{secrets: sec, http: verify.HTTP{Name: "datadog", Client: deps.Client(), Secrets: sec, MaxBody: maxBody}}
	var ok bool
	if p.apiKey, ok = sec.Get("apiKey"); !ok {
		return nil, verify.FieldErrorf("credentials.apiKey", "datadog: needs credentials.apiKey")
	}
	if p.appKey, ok = sec.Get("appKey"); !ok {
		return nil, verify.FieldErrorf("credentials.appKey", "datadog: needs credentials.appKey")
	}
	site := "datadoghq.com"
	for k, v := range ps.Settings {
		if k != "site" {
			return nil, verify.FieldErrorf("settings."+k, "datadog: unknown setting %q (site)", k)
		}
		site = v
	}
	p.base = "https://api." + site
	if ps.URL != "" {
		if _, err := verify.ParseURL("datadog", ps.URL); err != nil {
			return nil, err
		}
		p.base = strings.TrimSuffix(ps.URL, "/")
	}
	return p, nil
}

// Redact hides the provider's keys in text.
func (p *Provider) Redact(s string) string { return p.secrets.Redact(s) }

// Check validates the API key (GET /api/v1/validate).
func (p *Provider) Check(ctx context.Context) error {
	_, err := p.get(ctx, "/api/v1/validate", nil)
	return err
}

// answer is the metrics query answer.
type answer struct {
	Status  string   `json:"status"`
	Error   string   `json:"error"`
	Errors  []string `json:"errors"`
	ResType string   `json:"res_type"`
	Series  []struct {
		Scope     string        `json:"scope"`
		Pointlist [][2]*float64 `json:"pointlist"`
	} `json:"series"`
}

// Query runs a metrics query over the window; the value is the series' last
// non-null point, the sample all of them.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	if q.Logs {
		return verify.Result{}, fmt.Errorf("datadog: log queries: %w", verify.ErrUnsupported)
	}
	v := url.Values{"query": {q.Text}, "from": {strconv.FormatInt(q.Start().Unix(), 10)}, "to": {strconv.FormatInt(q.End.Unix(), 10)}}
	body, err := p.get(ctx, "/api/v1/query", v)
	if err != nil {
		return verify.Result{}, err
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || a.Status == "" {
		return verify.Result{}, p.http.Unexpected("not a metrics query answer", body)
	}
	if a.Status != "ok" {
		return verify.Result{}, fmt.Errorf("datadog: query %s: %s", a.Status, p.Redact(a.Error))
	}
	switch len(a.Series) {
	case 0:
		return verify.Result{}, fmt.Errorf("datadog: no series: %w", verify.ErrNoData)
	case 1:
	default:
		return verify.Result{}, fmt.Errorf("datadog: the query gave %d series (%s, ...); aggregate them to one, e.g. sum:metric{...}", len(a.Series), a.Series[0].Scope)
	}
	r := verify.Result{Value: math.NaN()}
	for _, pt := range a.Series[0].Pointlist {
		if pt[0] == nil || pt[1] == nil || math.IsNaN(*pt[1]) {
			continue // Datadog leaves null where a rollup bucket had no data
		}
		r.Sample = append(r.Sample, verify.Point{At: time.UnixMilli(int64(*pt[0])).UTC(), Value: *pt[1]})
	}
	if len(r.Sample) == 0 {
		return verify.Result{}, fmt.Errorf("datadog: only null points in the window: %w", verify.ErrNoData)
	}
	r.Value = r.Sample[len(r.Sample)-1].Value
	return r, nil
}

// get sends an authenticated GET and returns the body of a 2xx answer.
func (p *Provider) get(ctx context.Context, path string, v url.Values) ([]byte, error) {
	u := p.base + path
	if v != nil {
		u += "?" + v.Encode()
	}
	req, err := p.http.NewRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("DD-API-KEY", p.apiKey)
	req.Header.Set("DD-APPLICATION-KEY", p.appKey)
	resp, body, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, verify.StatusError(resp, fmt.Errorf("datadog: rate limited (HTTP 429) for longer than the query may take, reset in %ss (period %ss)",
			orString(resp.Header.Get("X-RateLimit-Reset"), "?"), orString(resp.Header.Get("X-RateLimit-Period"), "?")))
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("datadog: not authorised (HTTP %d): %s", resp.StatusCode, p.Redact(errorsOf(body)))
	case resp.StatusCode/100 != 2:
		return nil, p.http.Failed(resp, errorsOf(body))
	}
	return body, nil
}

// errorsOf returns Datadog's {"errors": [...]} messages, or a snippet of the body.
func errorsOf(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		return strings.Join(e.Errors, "; ")
	}
	return verify.Snippet(body)
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
