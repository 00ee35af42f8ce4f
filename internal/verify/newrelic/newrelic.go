package newrelic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// Endpoints of NerdGraph by region.
const (
	EndpointUS = "https://api.newrelic.com/graphql"
	EndpointEU = "https://api.eu.newrelic.com/graphql"
)

// graphQLPath is NerdGraph's path under a provider's base url.
const graphQLPath = "/graphql"

// maxConcurrent is NerdGraph's documented limit of concurrent requests per user;
// more are answered with HTTP 429.
const maxConcurrent = 25

// maxBody bounds the answer read.
const maxBody = 16 << 20

// graphQL is the NerdGraph query for one NRQL query in one account; $timeout is
// how long NerdGraph may run it (NerdGraph's default is 5 s).
const graphQL = `query($accountId: Int!, $nrql: Nrql!, $timeout: Seconds) { actor { account(id: $accountId) { nrql(query: $nrql, timeout: $timeout) { results } } } }`

// Bounds of the timeout argument: at least a second; at most what NerdGraph's
// query duration limit allows on the Original Data option (1 minute).
const (
	minTimeout = 1
	maxTimeout = 60
)

// Provider runs NRQL in one New Relic account.
type Provider struct {
	endpoint string
	account  int
	http     verify.HTTP
	secrets  verify.Secrets
	key      string
}

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Redacter = (*Provider)(nil)
)

// New builds a provider from its spec: credentials apiKey (a user key, required);
// settings accountId (required) and region (us, the default, or eu); a url
// replaces the region's base URL (https://api.newrelic.com), as for every
// provider; the older form naming the whole /graphql endpoint is still accepted
// (sluice validate warns about it, see OldURL).
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (*Provider, error) {
	sec, err := deps.ResolveSecrets(ctx, ps.Credentials)
	if err != nil {
		return nil, fmt.Errorf("newrelic: %w", err)
	}
	p := &Provider{endpoint: EndpointUS, secrets: sec,
		http: verify.HTTP{Name: "newrelic", Client: deps.Client(verify.Pace(0, maxConcurrent)), Secrets: sec, MaxBody: maxBody}}
	var ok bool
	if p.key, ok = sec.Get("apiKey"); !ok {
		return nil, verify.FieldErrorf("credentials.apiKey", "newrelic: needs credentials.apiKey")
	}
	for k, v := range ps.Settings {
		switch k {
		case "accountId":
			if p.account, err = strconv.Atoi(v); err != nil || p.account <= 0 {
				return nil, verify.FieldErrorf("settings.accountId", "newrelic: accountId %q is not an account number", v)
			}
		case "region":
			switch strings.ToLower(v) {
			case "us":
			case "eu":
				p.endpoint = EndpointEU
			default:
				return nil, verify.FieldErrorf("settings.region", "newrelic: region %q is neither us nor eu", v)
			}
		default:
			return nil, verify.FieldErrorf("settings."+k, "newrelic: unknown setting %q (accountId, region)", k)
		}
	}
	if p.account == 0 {
		return nil, verify.FieldErrorf("settings.accountId", "newrelic: needs settings.accountId")
	}
	if ps.URL != "" {
		if _, err := verify.ParseURL("newrelic", ps.URL); err != nil {
			return nil, err
		}
		p.endpoint = strings.TrimSuffix(ps.URL, "/")
		if !OldURL(ps.URL) {
			p.endpoint += graphQLPath
		}
	}
	return p, nil
}

// Redact hides the provider's key in text.
func (p *Provider) Redact(s string) string { return p.secrets.Redact(s) }

// Check runs a trivial NRQL query, which needs a valid key and access to the
// account.
func (p *Provider) Check(ctx context.Context) error {
	_, err := p.nrql(ctx, "SELECT count(*) FROM Transaction SINCE 1 minute ago")
	return err
}

var (
	sinceRE      = regexp.MustCompile(`(?i)\bSINCE\b`)
	timeseriesRE = regexp.MustCompile(`(?i)\bTIMESERIES\b`)
)

// Query runs NRQL over the window: SINCE and UNTIL (epoch milliseconds) are
// added unless the query has its own SINCE, and TIMESERIES MAX when a sample is
// asked for.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	if q.Logs {
		return verify.Result{}, fmt.Errorf("newrelic: log queries: %w", verify.ErrUnsupported)
	}
	text := q.Text
	if !sinceRE.MatchString(text) {
		text += fmt.Sprintf(" SINCE %d UNTIL %d", q.Start().UnixMilli(), q.End.UnixMilli())
	}
	if q.Sample && !timeseriesRE.MatchString(text) {
		text += " TIMESERIES MAX"
	}
	rows, err := p.nrql(ctx, text)
	if err != nil {
		return verify.Result{}, err
	}
	if len(rows) == 0 {
		return verify.Result{}, fmt.Errorf("newrelic: no results: %w", verify.ErrNoData)
	}
	if _, ok := rows[0]["beginTimeSeconds"]; ok {
		return series(rows)
	}
	return single(rows)
}

// single reads the one row of an aggregate query: one number is the value,
// several (or nested ones such as percentiles) are named values.
func single(rows []map[string]any) (verify.Result, error) {
	if len(rows) > 1 {
		return verify.Result{}, fmt.Errorf("newrelic: the query gave %d rows; drop FACET or aggregate to one", len(rows))
	}
	vals := map[string]float64{}
	flatten("", rows[0], vals)
	switch len(vals) {
	case 0:
		return verify.Result{}, fmt.Errorf("newrelic: the result has no number: %w", verify.ErrNoData)
	case 1:
		for _, v := range vals {
			return verify.Number(v), nil
		}
	}
	return verify.Result{Value: math.NaN(), Values: vals}, nil
}

// series reads a TIMESERIES answer, whose rows must each hold one number.
func series(rows []map[string]any) (verify.Result, error) {
	r := verify.Result{Value: math.NaN()}
	for _, row := range rows {
		begin, _ := row["beginTimeSeconds"].(float64)
		vals := map[string]float64{}
		flatten("", row, vals)
		if len(vals) > 1 {
			return verify.Result{}, fmt.Errorf("newrelic: a TIMESERIES row has %d numbers; select one", len(vals))
		}
		for _, v := range vals {
			r.Sample = append(r.Sample, verify.Point{At: time.Unix(int64(begin), 0).UTC(), Value: v})
		}
	}
	if len(r.Sample) == 0 {
		return verify.Result{}, fmt.Errorf("newrelic: no point in the series: %w", verify.ErrNoData)
	}
	r.Value = r.Sample[len(r.Sample)-1].Value
	return r, nil
}

// flatten collects the numbers of a row, nested keys joined with dots
// ("percentile.duration.99"), leaving out the time bucket fields.
func flatten(prefix string, v map[string]any, out map[string]float64) {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "beginTimeSeconds" || k == "endTimeSeconds" || k == "timestamp" {
			continue
		}
		switch x := v[k].(type) {
		case float64:
			out[prefix+k] = x
		case map[string]any:
			flatten(prefix+k+".", x, out)
		}
	}
}

// nrql sends one NRQL query and returns its result rows; GraphQL errors are
// errors whatever the HTTP status.
func (p *Provider) nrql(ctx context.Context, text string) ([]map[string]any, error) {
	vars := map[string]any{"accountId": p.account, "nrql": text}
	if t, ok := timeout(ctx); ok {
		vars["timeout"] = t
	}
	body, _ := json.Marshal(map[string]any{"query": graphQL, "variables": vars})
	req, err := p.http.NewRequest(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("API-Key", p.key)
	resp, b, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	var a struct {
		Data *struct {
			Actor struct {
				Account *struct {
					NRQL *struct {
						Results []map[string]any `json:"results"`
					} `json:"nrql"`
				} `json:"account"`
			} `json:"actor"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &a); err != nil || (a.Data == nil && len(a.Errors) == 0) {
		err := fmt.Errorf("newrelic: HTTP %d without a GraphQL answer: %s", resp.StatusCode, p.Redact(verify.Snippet(b)))
		if resp.StatusCode/100 == 2 {
			return nil, verify.Unavailable(err)
		}
		return nil, verify.StatusError(resp, err)
	}
	if len(a.Errors) > 0 {
		msgs := make([]string, len(a.Errors))
		for i, e := range a.Errors {
			msgs[i] = e.Message
		}
		return nil, verify.StatusError(resp, fmt.Errorf("newrelic: HTTP %d, NerdGraph errors: %s", resp.StatusCode, p.Redact(strings.Join(msgs, "; "))))
	}
	if resp.StatusCode/100 != 2 {
		return nil, p.http.Failed(resp, verify.Snippet(b))
	}
	if a.Data.Actor.Account == nil || a.Data.Actor.Account.NRQL == nil {
		return nil, verify.Unavailable(fmt.Errorf("newrelic: the answer has no nrql results (account %d)", p.account))
	}
	return a.Data.Actor.Account.NRQL.Results, nil
}

// OldURL says whether a provider url is the older New Relic form that names the
// whole NerdGraph endpoint (https://api.newrelic.com/graphql) rather than its
// base URL.
func OldURL(u string) bool {
	return strings.HasSuffix(strings.TrimSuffix(u, "/"), graphQLPath)
}

// timeout is NerdGraph's timeout argument for a query bounded by ctx: the whole
// seconds left before its deadline, less one for the answer's way back, within
// [minTimeout, maxTimeout]; none without a deadline.
func timeout(ctx context.Context) (int, bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	left := int(time.Until(dl)/time.Second) - 1
	return min(max(left, minTimeout), maxTimeout), true
}
