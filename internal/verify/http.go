package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/spec"
)

// HTTP is what every HTTP provider shares around the shared retrying client:
// building its requests, sending them, reading a bounded answer, and describing
// what went wrong with its credentials hidden. The providers own their APIs'
// paths, envelopes and status meanings; HTTP owns nothing but the plumbing.
type HTTP struct {
	// Name is the provider type, the prefix of every error ("prometheus").
	Name string
	// Client is the provider's client (Deps.Client).
	Client *http.Client
	// Secrets are hidden in every error text.
	Secrets Secrets
	// MaxBody bounds the answer read.
	MaxBody int64
	// Base is the provider's url, for providers served at one (NewHTTP); see URL.
	Base *url.URL
}

// NewHTTP starts the constructor of a provider of type typ served at one url: it
// parses the spec's url (an http(s) URL with a host, a trailing slash dropped) and
// resolves its credentials, and returns the plumbing on them with the shared
// client, answers bounded by maxBody.
func NewHTTP(ctx context.Context, typ string, ps spec.ProviderSpec, deps Deps, maxBody int64) (HTTP, error) {
	u, err := ParseURL(typ, strings.TrimSuffix(ps.URL, "/"))
	if err != nil {
		return HTTP{}, err
	}
	sec, err := deps.ResolveSecrets(ctx, ps.Credentials)
	if err != nil {
		return HTTP{}, fmt.Errorf("%s: %w", typ, err)
	}
	return HTTP{Name: typ, Client: deps.Client(), Secrets: sec, MaxBody: maxBody, Base: u}, nil
}

// URL returns the API path below Base: Base's path with path appended.
func (h HTTP) URL(path string) *url.URL {
	u := *h.Base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return &u
}

// NewRequest builds a request with ctx; its error names the provider.
func (h HTTP) NewRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name, err)
	}
	return req, nil
}

// Do sends req and reads at most MaxBody bytes of the answer, whatever its
// status. No answer is a provider error (CallError), and so is an answer whose
// body cannot be read; both name the provider and hide its credentials.
func (h HTTP) Do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := h.Client.Do(req)
	if err != nil {
		return nil, nil, CallError(err, h.Name+": "+h.Secrets.Redact(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.MaxBody))
	if err != nil {
		return nil, nil, Unavailable(fmt.Errorf("%s: read answer (HTTP %d): %s", h.Name, resp.StatusCode, h.Secrets.Redact(err.Error())))
	}
	return resp, body, nil
}

// Failed describes an answer the provider's API calls a failure, with detail
// (its own words, or a Snippet of the body) and credentials hidden:
// "loki: HTTP 400: ...". The error is a provider error when the status says
// the provider is overloaded or failing (StatusError).
func (h HTTP) Failed(resp *http.Response, detail string) error {
	return StatusError(resp, fmt.Errorf("%s: HTTP %d: %s", h.Name, resp.StatusCode, h.Secrets.Redact(detail)))
}

// Unexpected is the provider error of an answer that is not what the API
// documents: "prometheus: <what>: <snippet of body>", credentials hidden.
func (h HTTP) Unexpected(what string, body []byte) error {
	return Unavailable(fmt.Errorf("%s: %s: %s", h.Name, what, h.Secrets.Redact(Snippet(body))))
}

var tags = regexp.MustCompile(`<[^>]*>|\s+`)

// Snippet returns the start of a body without HTML tags, quoted, for error
// messages; "(empty body)" when there is nothing to show.
func Snippet(b []byte) string {
	s := strings.TrimSpace(tags.ReplaceAllString(string(b), " "))
	if s == "" {
		return "(empty body)"
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

// Authorise sets the credentials most HTTP APIs take: a bearer token
// (credentials.token), else basic auth (credentials.username and password).
func (s Secrets) Authorise(req *http.Request) {
	if tok, ok := s.Get("token"); ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if user, ok := s.Get("username"); ok {
		pass, _ := s.Get("password")
		req.SetBasicAuth(user, pass)
	}
}

// ParseURL parses a provider's url, which must be http(s) with a host; the
// error is a FieldError on url naming the provider type.
func ParseURL(typ, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, FieldErrorf("url", "%s: url %q is not an http(s) URL", typ, raw)
	}
	return u, nil
}

// FieldError is a problem with one field of a provider's spec, such as
// settings.accountId or credentials.apiKey; `sluice validate` and apply report
// it at that field.
type FieldError struct {
	// Field is the path below the provider: url, settings.step, credentials.apiKey.
	Field string
	// Err says what is wrong, naming the provider type.
	Err error
}

// Error returns the description.
func (e *FieldError) Error() string { return e.Err.Error() }

// Unwrap returns the description's error.
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf returns a FieldError on field with a formatted description.
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// SpecCheck returns the check of a provider type's spec: its constructor, which
// makes no request, run with CheckDeps, so the check is exactly the
// constructor's and reads no credential. The constructor's *FieldError names
// the field at fault.
func SpecCheck[P any](newProvider func(context.Context, spec.ProviderSpec, Deps) (P, error)) func(spec.ProviderSpec) error {
	return func(ps spec.ProviderSpec) error {
		_, err := newProvider(context.Background(), ps, CheckDeps())
		return err
	}
}

// CheckDeps are the Deps with which SpecCheck runs a constructor:
// every credential resolves to a placeholder without reading an environment
// variable, a file or a Secret, nothing is registered, and the client sends
// nothing (constructors make no request anyway).
func CheckDeps() Deps {
	const placeholder = "sluice-validate-placeholder"
	return Deps{
		Getenv:      func(string) string { return placeholder },
		ReadFile:    func(string) ([]byte, error) { return []byte(placeholder), nil },
		KubeSecrets: placeholderSecrets{value: placeholder},
		HTTP:        &http.Client{Transport: refuse{}},
	}
}

type placeholderSecrets struct{ value string }

func (p placeholderSecrets) Get(context.Context, string, string, string) ([]byte, error) {
	return []byte(p.value), nil
}

type refuse struct{}

func (refuse) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("checking a provider's spec sends no request")
}
