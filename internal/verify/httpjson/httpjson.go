package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// maxBody bounds the answer read.
const maxBody = 8 << 20

// Provider calls one HTTP/JSON endpoint.
type Provider struct {
	url, method, body string
	headers           map[string]string
	value             path
	values            map[string]path
	sample            *path
	check             string
	http              verify.HTTP
	secrets           verify.Secrets
}

var (
	_ verify.Provider = (*Provider)(nil)
	_ verify.Redacter = (*Provider)(nil)
)

// New builds a provider from its spec. url is a template; settings are method
// (GET), body (a template), path (to the value, required), values.<name> (paths
// to named values), sample (path to an array of numbers or [time, value] pairs),
// header.<Name> (headers) and check (a URL for Check; default: none, Check only
// validates). Credentials token (bearer), username and password (basic), and
// header.<Name> (a header whose value is the secret).
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (*Provider, error) {
	if ps.URL == "" {
		return nil, verify.FieldErrorf("url", "http: needs a url")
	}
	sec, err := deps.ResolveSecrets(ctx, ps.Credentials)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	p := &Provider{url: ps.URL, method: http.MethodGet, headers: map[string]string{}, values: map[string]path{},
		secrets: sec, http: verify.HTTP{Name: "http", Client: deps.Client(), Secrets: sec, MaxBody: maxBody}}
	for k, v := range ps.Settings {
		if err := p.set(k, v); err != nil {
			return nil, verify.FieldErrorf("settings."+k, "http: setting %s: %w", k, err)
		}
	}
	if p.value.src == "" && len(p.values) == 0 {
		return nil, verify.FieldErrorf("settings.path", "http: needs settings.path (where the value is in the answer) or settings.values.<name>")
	}
	return p, nil
}

func (p *Provider) set(k, v string) error {
	var err error
	switch {
	case k == "method":
		p.method = strings.ToUpper(v)
	case k == "body":
		p.body = v
	case k == "check":
		p.check = v
	case k == "path":
		p.value, err = parsePath(v)
	case k == "sample":
		var sp path
		sp, err = parsePath(v)
		p.sample = &sp
	case strings.HasPrefix(k, "values."):
		p.values[strings.TrimPrefix(k, "values.")], err = parsePath(v)
	case strings.HasPrefix(k, "header."):
		p.headers[strings.TrimPrefix(k, "header.")] = v
	default:
		return errors.New("unknown (method, body, path, values.<name>, sample, header.<Name>, check)")
	}
	return err
}

// Redact hides the provider's credentials in text.
func (p *Provider) Redact(s string) string { return p.secrets.Redact(s) }

// Check calls the check URL when one is set and expects a 2xx answer.
func (p *Provider) Check(ctx context.Context) error {
	if p.check == "" {
		return ctx.Err()
	}
	req, err := p.request(ctx, http.MethodGet, p.check, nil)
	if err != nil {
		return err
	}
	_, err = p.do(req)
	return err
}

// Query renders the request for q, sends it and reads the value at the paths.
func (p *Provider) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	vars := templateVars(q)
	u := render(p.url, vars, url.QueryEscape)
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(render(p.body, vars, jsonEscape))
	}
	req, err := p.request(ctx, p.method, u, body)
	if err != nil {
		return verify.Result{}, err
	}
	doc, err := p.do(req)
	if err != nil {
		return verify.Result{}, err
	}
	return p.read(doc, q.Sample)
}

// read takes the value, named values and series out of a decoded answer.
func (p *Provider) read(doc any, wantSample bool) (verify.Result, error) {
	r := verify.Result{Value: math.NaN()}
	if p.value.src != "" {
		v, ok, err := p.value.get(doc)
		if err != nil {
			return r, fmt.Errorf("http: %w", err)
		}
		if ok && v != nil {
			if r.Value, err = number(v); err != nil {
				return r, fmt.Errorf("http: value at %s: %w", p.value.src, err)
			}
		}
	}
	for name, vp := range p.values {
		v, ok, err := vp.get(doc)
		if err != nil {
			return r, fmt.Errorf("http: %w", err)
		}
		if !ok || v == nil {
			continue
		}
		f, err := number(v)
		if err != nil {
			return r, fmt.Errorf("http: value %s at %s: %w", name, vp.src, err)
		}
		if r.Values == nil {
			r.Values = map[string]float64{}
		}
		r.Values[name] = f
	}
	if wantSample && p.sample != nil {
		s, err := series(doc, *p.sample)
		if err != nil {
			return r, err
		}
		r.Sample = s
	}
	if math.IsNaN(r.Value) && len(r.Values) == 0 && len(r.Sample) == 0 {
		return r, fmt.Errorf("http: nothing at %s: %w", p.value.src, verify.ErrNoData)
	}
	return r, nil
}

// series reads an array of numbers or of [time, value] pairs.
func series(doc any, sp path) ([]verify.Point, error) {
	v, ok, err := sp.get(doc)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	if !ok || v == nil {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, fmt.Errorf("http: sample at %s is %T, not an array", sp.src, v)
	}
	var out []verify.Point
	for i, e := range arr {
		var pt verify.Point
		if pair, ok := e.([]any); ok && len(pair) == 2 {
			ts, err1 := number(pair[0])
			val, err2 := number(pair[1])
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("http: sample point %d: %w", i, err)
			}
			pt = verify.Point{At: time.Unix(0, int64(ts*1e9)).UTC(), Value: val}
		} else {
			val, err := number(e)
			if err != nil {
				return nil, fmt.Errorf("http: sample point %d: %w", i, err)
			}
			pt.Value = val
		}
		if !math.IsNaN(pt.Value) {
			out = append(out, pt)
		}
	}
	return out, nil
}

func (p *Provider) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, verify.CallError(err, "http: "+p.Redact(err.Error()))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	for _, name := range p.secretNames() {
		v, _ := p.secrets.Get(name)
		switch {
		case name == "token":
			req.Header.Set("Authorization", "Bearer "+v)
		case strings.HasPrefix(name, "header."):
			req.Header.Set(strings.TrimPrefix(name, "header."), v)
		}
	}
	if user, ok := p.secrets.Get("username"); ok {
		pass, _ := p.secrets.Get("password")
		req.SetBasicAuth(user, pass)
	}
	return req, nil
}

func (p *Provider) secretNames() []string {
	var out []string
	for _, n := range []string{"token"} {
		if _, ok := p.secrets.Get(n); ok {
			out = append(out, n)
		}
	}
	return append(out, p.secrets.Names("header.")...)
}

// do sends a request and decodes its JSON answer.
func (p *Provider) do(req *http.Request) (any, error) {
	resp, b, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, p.http.Failed(resp, verify.Snippet(b))
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, p.http.Unexpected(fmt.Sprintf("HTTP %d answer is not JSON", resp.StatusCode), b)
	}
	return doc, nil
}

// templateVars are the values the URL and body templates may use.
func templateVars(q verify.Query) map[string]string {
	return map[string]string{
		"query": q.Text, "slot": string(q.Slot), "service": q.Service, "window": verify.WindowString(q.Window),
		"start": strconv.FormatInt(q.Start().Unix(), 10), "end": strconv.FormatInt(q.End.Unix(), 10),
		"window_seconds": strconv.FormatFloat(q.Window.Seconds(), 'f', -1, 64),
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*([a-z_]+)\s*\}\}`)

// render fills {{name}} placeholders, escaping each value for where it goes;
// unknown names stay as they are.
func render(tmpl string, vars map[string]string, escape func(string) string) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		if v, ok := vars[placeholder.FindStringSubmatch(m)[1]]; ok {
			return escape(v)
		}
		return m
	})
}

// jsonEscape escapes a value for the inside of a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
