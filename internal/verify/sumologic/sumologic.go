package sumologic

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// deployments maps a deployment name to its API address.
var deployments = map[string]string{
	"us1": "https://api.sumologic.com", "us2": "https://api.us2.sumologic.com", "eu": "https://api.eu.sumologic.com",
	"au": "https://api.au.sumologic.com", "de": "https://api.de.sumologic.com", "jp": "https://api.jp.sumologic.com",
	"ca": "https://api.ca.sumologic.com", "in": "https://api.in.sumologic.com", "kr": "https://api.kr.sumologic.com",
	"ch": "https://api.ch.sumologic.com", "fed": "https://api.fed.sumologic.com",
}

// Provider runs search jobs in one Sumo Logic account.
type Provider struct {
	base     string
	http     verify.HTTP
	secrets  verify.Secrets
	id, key  string
	field    string
	poll     time.Duration
	pageSize int
	maxLines int
	// perSecond and concurrent pace the provider's requests.
	perSecond  float64
	concurrent int
}

// Sumo Logic's documented API limits: four requests a second per user and ten
// concurrent requests per access key; more are answered with HTTP 429.
const (
	requestsPerSecond  = 4
	concurrentRequests = 10
)

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Redacter = (*Provider)(nil)
)

// New builds a provider from its spec: credentials accessId and accessKey
// (required); settings deployment (us1 by default; us2, eu, au, de, jp, ca, in,
// kr, ch, fed) or a url, field (the record field holding the value; default the
// only numeric one), pollInterval (default 1s), pageSize (messages per request,
// default 1000, at most 10000), maxLines (default 10000), requestsPerSecond and
// concurrentRequests (the pace of the provider's requests; default Sumo Logic's
// documented limits, 4 and 10).
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (*Provider, error) {
	sec, err := deps.ResolveSecrets(ctx, ps.Credentials)
	if err != nil {
		return nil, fmt.Errorf("sumologic: %w", err)
	}
	p := &Provider{base: deployments["us1"], secrets: sec, poll: time.Second, pageSize: 1000, maxLines: 10000,
		perSecond: requestsPerSecond, concurrent: concurrentRequests}
	var ok bool
	if p.id, ok = sec.Get("accessId"); !ok {
		return nil, verify.FieldErrorf("credentials.accessId", "sumologic: needs credentials.accessId")
	}
	if p.key, ok = sec.Get("accessKey"); !ok {
		return nil, verify.FieldErrorf("credentials.accessKey", "sumologic: needs credentials.accessKey")
	}
	for k, v := range ps.Settings {
		if err := p.set(k, v); err != nil {
			return nil, verify.FieldErrorf("settings."+k, "sumologic: setting %s %q: %w", k, v, err)
		}
	}
	if ps.URL != "" {
		if _, err := verify.ParseURL("sumologic", ps.URL); err != nil {
			return nil, err
		}
		p.base = strings.TrimSuffix(ps.URL, "/")
	}
	p.http = verify.HTTP{Name: "sumologic", Client: deps.Client(verify.Pace(p.perSecond, p.concurrent)), Secrets: sec, MaxBody: maxBody}
	return p, nil
}

func (p *Provider) set(k, v string) error {
	switch k {
	case "deployment":
		base, ok := deployments[strings.ToLower(v)]
		if !ok {
			return errors.New("unknown deployment")
		}
		p.base = base
	case "field":
		p.field = v
	case "pollInterval":
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("not a positive duration")
		}
		p.poll = d
	case "requestsPerSecond":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return errors.New("not a positive number")
		}
		p.perSecond = f
	case "concurrentRequests":
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errors.New("not a positive count")
		}
		p.concurrent = n
	case "pageSize", "maxLines":
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || (k == "pageSize" && n > 10000) {
			return errors.New("not a positive count (pageSize at most 10000)")
		}
		if k == "pageSize" {
			p.pageSize = n
		} else {
			p.maxLines = n
		}
	default:
		return errors.New("unknown (deployment, field, pollInterval, pageSize, maxLines, requestsPerSecond, concurrentRequests)")
	}
	return nil
}

// Redact hides the provider's access key and id in text.
func (p *Provider) Redact(s string) string { return p.secrets.Redact(s) }

// Check lists one collector, which needs valid access keys.
func (p *Provider) Check(ctx context.Context) error {
	_, err := p.newSession().call(ctx, http.MethodGet, p.base+"/api/v1/collectors?limit=1", nil, http.StatusOK)
	return err
}

// Query runs one search job over the window: for a log check the value is the
// number of messages (their lines are kept), otherwise the one record's value.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	s := p.newSession()
	job, err := s.create(ctx, q)
	if err != nil {
		return verify.Result{}, err
	}
	defer s.remove(job)
	st, err := s.wait(ctx, job)
	if err != nil {
		return verify.Result{}, err
	}
	var r verify.Result
	if q.Logs {
		r, err = s.messages(ctx, job, st.MessageCount)
	} else {
		r, err = s.records(ctx, job, st.RecordCount)
	}
	r.Warnings = append(r.Warnings, st.PendingWarnings...)
	if st.State == stateForcePaused {
		r.Warnings = append(r.Warnings, "the search job was paused for having too many results; counts are partial")
	}
	return r, err
}

// value picks the record's value: the configured field, or its only numeric
// field; several numeric fields become named values.
func (p *Provider) value(rec map[string]string) (verify.Result, error) {
	if p.field != "" {
		s, ok := rec[p.field]
		if !ok {
			return verify.Result{}, fmt.Errorf("sumologic: the record has no field %q (it has %s)", p.field, fieldNames(rec))
		}
		return parseNumber(p.field, s)
	}
	vals := map[string]float64{}
	for k, s := range rec {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			vals[k] = f
		}
	}
	switch len(vals) {
	case 0:
		return verify.Result{}, fmt.Errorf("sumologic: the record has no numeric field (it has %s)", fieldNames(rec))
	case 1:
		for _, v := range vals {
			if math.IsNaN(v) {
				return verify.Result{}, fmt.Errorf("sumologic: value is NaN: %w", verify.ErrNoData)
			}
			return verify.Number(v), nil
		}
	}
	return verify.Result{Value: math.NaN(), Values: vals}, nil
}

func parseNumber(name, s string) (verify.Result, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return verify.Result{}, fmt.Errorf("sumologic: field %s is %q, not a number", name, s)
	}
	if math.IsNaN(f) {
		return verify.Result{}, fmt.Errorf("sumologic: field %s is NaN: %w", name, verify.ErrNoData)
	}
	return verify.Number(f), nil
}

func fieldNames(rec map[string]string) string {
	names := make([]string, 0, len(rec))
	for k := range rec {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
