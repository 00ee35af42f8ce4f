package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/spec"
)

// ErrNoData says the provider answered but had nothing for the query and window;
// it is a result that the noData rule judges, not a failure.
var ErrNoData = errors.New("no data")

// ErrUnsupported says a provider cannot answer this kind of query (for example a
// log query to a metrics-only provider).
var ErrUnsupported = errors.New("not supported by this provider")

// Provider answers one query for one slot over one window.
type Provider interface {
	// Query runs q and returns its result; ErrNoData (wrapped or not) means the
	// source had no data for the window.
	Query(ctx context.Context, q Query) (Result, error)
	// Check says whether the source is reachable and accepts the credentials.
	Check(ctx context.Context) error
}

// Query is one rendered query for one slot over one window.
type Query struct {
	// Text is the provider-specific query with every template already rendered.
	Text string
	// Service and Slot name what is measured.
	Service string
	Slot    platform.Slot
	// End is the end of the window and Window its length.
	End    time.Time
	Window time.Duration
	// Sample asks for a series of points over the window (for comparison judges)
	// in addition to the value.
	Sample bool
	// Logs says Text is a log query whose result is the number of matching lines.
	Logs bool
}

// Start returns the beginning of the query's window.
func (q Query) Start() time.Time { return q.End.Add(-q.Window) }

// Point is one value of a series.
type Point struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

// Tally counts events (errors, slow requests) among trials (requests) in a window,
// which is what the sequential judge needs.
type Tally struct {
	Events float64 `json:"events"`
	Trials float64 `json:"trials"`
}

// Result is a provider's answer to one query.
type Result struct {
	// Value is the main value; NaN when the result has only named values.
	Value float64
	// Values are named values such as p50 and p99; conditions reach them as
	// result.p99.
	Values map[string]float64
	// Sample is the series over the window, when the query asked for one.
	Sample []Point
	// Tally is the count of events among trials, when the query yields one.
	Tally *Tally
	// Lines are the matching log lines of a log query (Value is their count),
	// up to the provider's limit.
	Lines []string
	// Window is the length the answer really covers when it differs from the
	// query's (the built-in router's history may be shorter); zero means as asked.
	Window time.Duration
	// Warnings are the source's remarks about the answer, shown on the console.
	Warnings []string
}

// Number returns a result with a single value.
func Number(v float64) Result { return Result{Value: v} }

// Empty reports whether the result carries no value at all.
func (r Result) Empty() bool {
	return math.IsNaN(r.Value) && len(r.Values) == 0 && len(r.Sample) == 0 && r.Tally == nil && len(r.Lines) == 0
}

// MetricsSource reads the built-in router's cumulative per-slot counters of a
// service; the built-in router implements it.
type MetricsSource interface {
	Metrics(service string) (proxy.MetricsSnapshot, error)
}

// Deps are what providers may need from the running server.
type Deps struct {
	// Metrics is the built-in router's metrics, or nil when the router is not built in.
	Metrics MetricsSource
	// HTTP is the client for remote providers; nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Register, when set, receives every resolved credential so the server can mask
	// it wherever it might appear (secrets.Default.Add).
	Register func(values ...string)
	// Getenv and ReadFile resolve credential references; nil means the os functions.
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	// KubeSecrets reads references to Kubernetes Secrets, with the environment's
	// kubeconfig; nil when the environment is not on the kubernetes platform.
	KubeSecrets SecretGetter
	// KubeNamespace is where a Secret reference without a namespace looks: the
	// environment's kubernetes namespace.
	KubeNamespace string
}

// SecretGetter reads one key of a Kubernetes Secret. Its errors need not name
// the reference (the caller adds it) and never contain a value.
type SecretGetter interface {
	Get(ctx context.Context, namespace, name, key string) ([]byte, error)
}

// Client returns the HTTP client a remote provider uses: BaseClient's, whose
// calls are sent again when the provider refuses them for now (HTTP 429 and 503
// honouring Retry-After and the vendors' reset headers, 502 and 504 with backoff)
// while the request's deadline allows; opts add a vendor's documented limits.
// Each call returns a client with its own rate-limit state: call it once per
// provider.
func (d Deps) Client(opts ...ClientOption) *http.Client {
	return withRetries(d.BaseClient(), opts...)
}

// BaseClient returns the HTTP client without retries: HTTP, or a client with a
// 30 s timeout.
func (d Deps) BaseClient() *http.Client {
	if d.HTTP != nil {
		return d.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Clock returns the clock to use.
func (d Deps) Clock() func() time.Time {
	if d.Now != nil {
		return d.Now
	}
	return time.Now
}

// Redacter is implemented by providers that hold secrets; the step runner passes
// every error text and rendered query through it before showing or storing it.
type Redacter interface {
	Redact(s string) string
}

// Secrets holds a provider's resolved credentials and hides them in text.
type Secrets struct {
	values map[string]string
}

// ResolveSecrets reads each reference (environment variable, file or key of a
// Kubernetes Secret) of a provider's credentials; errors name the reference,
// never the value.
func (d Deps) ResolveSecrets(ctx context.Context, refs map[string]spec.SecretRef) (Secrets, error) {
	s := Secrets{values: map[string]string{}}
	for name, ref := range refs {
		v, err := d.resolve(ctx, ref)
		if err != nil {
			return Secrets{}, fmt.Errorf("credential %s: %w", name, err)
		}
		s.values[name] = v
		if d.Register != nil {
			d.Register(v)
		}
	}
	return s, nil
}

// resolve reads one reference.
func (d Deps) resolve(ctx context.Context, ref spec.SecretRef) (string, error) {
	getenv, readFile := d.Getenv, d.ReadFile
	if getenv == nil {
		getenv = os.Getenv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	switch {
	case refKinds(ref) != 1:
		return "", errors.New("set exactly one of env, file and secret")
	case ref.Env != "":
		v := getenv(ref.Env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or unset", ref.Env)
		}
		return v, nil
	case ref.File != "":
		b, err := readFile(ref.File)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return d.kubeSecret(ctx, *ref.Secret)
}

// refKinds counts the kinds of reference ref sets.
func refKinds(ref spec.SecretRef) int {
	n := 0
	for _, set := range []bool{ref.Env != "", ref.File != "", ref.Secret != nil} {
		if set {
			n++
		}
	}
	return n
}

// kubeSecret reads a key of a Kubernetes Secret, in the environment's namespace
// unless the reference names one.
func (d Deps) kubeSecret(ctx context.Context, ref spec.KubernetesSecretRef) (string, error) {
	if ref.Namespace == "" {
		ref.Namespace = d.KubeNamespace
	}
	if d.KubeSecrets == nil {
		return "", fmt.Errorf("%s: Kubernetes Secrets need an environment on the kubernetes platform", ref)
	}
	b, err := d.KubeSecrets.Get(ctx, ref.Namespace, ref.Name, ref.Key)
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", ref)
	}
	return v, nil
}

// Get returns the named credential and whether it is set.
func (s Secrets) Get(name string) (string, bool) {
	v, ok := s.values[name]
	return v, ok
}

// Redact replaces every credential value in text with "***".
func (s Secrets) Redact(text string) string {
	for _, v := range s.values {
		if len(v) >= 4 {
			text = strings.ReplaceAll(text, v, "***")
		}
	}
	return text
}

// Watcher is implemented by providers that must start observing a service before
// its first window can be answered (the built-in router's counters are read, not
// stored); the step runner calls Watch when an analysis starts or resumes.
type Watcher interface {
	Watch(ctx context.Context, service string) error
}

// Names returns the names of the credentials that start with prefix, sorted.
func (s Secrets) Names(prefix string) []string {
	var out []string
	for k := range s.values {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
