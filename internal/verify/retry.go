package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProviderError says a provider gave no usable answer: no answer at all (refused,
// reset, timed out), an answer saying it is overloaded or failing (HTTP 429 or
// 5xx) after the retries the query's time allowed, or an answer that is not what
// its API documents. It is trouble with the provider, never a verdict about the
// canary: the verify step gives the measurement the verdict Error, retries it, and
// the step's onProviderError decides what a provider that stays unavailable means.
type ProviderError struct {
	// Err describes the trouble, credentials removed.
	Err error
	// RetryAfter is when the provider said it will answer again (Retry-After,
	// X-RateLimit-Reset); zero when it did not say.
	RetryAfter time.Time
}

// Error returns the description.
func (e *ProviderError) Error() string { return e.Err.Error() }

// Unwrap returns the description's error.
func (e *ProviderError) Unwrap() error { return e.Err }

// Unavailable marks err as a provider error, keeping the RetryAfter of a provider
// error it wraps; nil stays nil.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		if pe == err {
			return err
		}
		return &ProviderError{Err: err, RetryAfter: pe.RetryAfter}
	}
	return &ProviderError{Err: err}
}

// CallError is the provider error of a call that got no answer: text describes
// it with credentials removed (the client's error text, prefixed by the
// provider's name), cause is the client's error, whose RetryAfter is kept.
func CallError(cause error, text string) error {
	pe := &ProviderError{Err: errors.New(text)}
	var c *ProviderError
	if errors.As(cause, &c) {
		pe.RetryAfter = c.RetryAfter
	}
	return pe
}

// StatusError marks err, a provider's description of an answer with status
// resp.StatusCode, as a provider error when the status says the provider is
// overloaded or failing (429 or 5xx), with the time it gave to come back; any
// other status blames the query or the credentials and err is returned as is.
func StatusError(resp *http.Response, err error) error {
	if err == nil || resp == nil || !overloaded(resp.StatusCode) {
		return err
	}
	at, _ := RetryAt(resp.Header, time.Now())
	return &ProviderError{Err: err, RetryAfter: at}
}

// overloaded says whether an HTTP status means the provider could not answer now.
func overloaded(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// retryable says whether a request answered with status may be sent again: the
// provider refused it (429, 503) or a gateway in front of it failed (502, 504).
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// RetryAt reads when an answer says the provider will answer again: the standard
// Retry-After (seconds or an HTTP date), or the reset headers of rate-limited
// APIs: X-RateLimit-Reset (seconds until the limit resets, as Datadog documents;
// a value that large is a Unix time, as other vendors send) and, without it,
// Datadog's X-RateLimit-Period (the length of the calendar-aligned period).
func RetryAt(h http.Header, now time.Time) (time.Time, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return now.Add(seconds(s)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return t, true
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			if s > 1e9 {
				return time.Unix(int64(s), 0), true
			}
			return now.Add(seconds(s)), true
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Period")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			return now.Add(seconds(s)), true
		}
	}
	return time.Time{}, false
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Retry timing of the shared client when the provider does not say when to come
// back: the first wait, doubled after each retry up to maxBackoff; without a
// deadline on the request, at most maxAttempts calls.
const (
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 8 * time.Second
	maxAttempts  = 6
)

// ClientOption shapes the HTTP client a provider gets from Deps.Client.
type ClientOption func(*retrier)

// Pace spaces the requests of one provider so that at most perSecond start in
// any second, with a tenth to spare for the jitter between sluice and the vendor,
// and keeps at most concurrent of them in flight (0 means no such limit), so that
// a vendor's documented limits (Sumo Logic: 4 requests/s, 10 concurrent) are
// not broken by several queries sharing it.
func Pace(perSecond float64, concurrent int) ClientOption {
	return func(r *retrier) {
		if perSecond > 0 {
			r.gap = time.Duration(1.1 * float64(time.Second) / perSecond)
		}
		if concurrent > 0 {
			r.slots = make(chan struct{}, concurrent)
		}
	}
}

// retrier is an http.RoundTripper that sends a request again when the provider
// refused it for now (429, 503) or its gateway failed (502, 504), waiting as long
// as the answer says (RetryAt) or with backoff, but only while the request's
// deadline allows: a wait that would end after it returns the last answer at once.
// The time to come back that a 429 gives holds for every request of the
// provider, so queries sharing it wait instead of piling on.
type retrier struct {
	next  http.RoundTripper
	gap   time.Duration
	slots chan struct{}

	mu        sync.Mutex
	notBefore time.Time // no request before this (a 429 said so, or pacing)
}

// withRetries returns a copy of client whose transport retries, unless it does already.
func withRetries(client *http.Client, opts ...ClientOption) *http.Client {
	if _, ok := client.Transport.(*retrier); ok && len(opts) == 0 {
		return client
	}
	next := client.Transport
	if r, ok := next.(*retrier); ok {
		next = r.next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	r := &retrier{next: next}
	for _, o := range opts {
		o(r)
	}
	c := *client
	c.Transport = r
	return &c
}

// RoundTrip sends req, and again while the provider asks for it and time allows.
func (r *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		resp, err := r.once(ctx, req)
		if err != nil || !retryable(resp.StatusCode) {
			return resp, err
		}
		at, said := RetryAt(resp.Header, time.Now())
		if !said {
			at, backoff = time.Now().Add(backoff), min(2*backoff, maxBackoff)
		}
		if resp.StatusCode == http.StatusTooManyRequests && said {
			r.hold(at)
		}
		if !r.worthWaiting(ctx, req, at, attempt) {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := sleepUntil(ctx, at); err != nil {
			return nil, err
		}
		if req, err = rewind(ctx, req); err != nil {
			return nil, err
		}
	}
}

// worthWaiting says whether a retry at at can still be sent: the request's body
// can be sent again and the wait ends before its deadline (or, without one,
// attempts are left).
func (r *retrier) worthWaiting(ctx context.Context, req *http.Request, at time.Time, attempt int) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if dl, ok := ctx.Deadline(); ok {
		return at.Before(dl)
	}
	return attempt < maxAttempts
}

// once waits for the provider's time to come back and a free slot, then sends req.
func (r *retrier) once(ctx context.Context, req *http.Request) (*http.Response, error) {
	if err := r.admit(ctx); err != nil {
		return nil, err
	}
	if r.slots != nil {
		select {
		case r.slots <- struct{}{}:
			defer func() { <-r.slots }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.next.RoundTrip(req)
}

// admit waits until the provider may be called; when that is after the
// request's deadline it fails at once with a provider error saying when.
func (r *retrier) admit(ctx context.Context) error {
	r.mu.Lock()
	now := time.Now()
	at := r.notBefore
	if r.gap > 0 {
		r.notBefore = later(at, now).Add(r.gap)
	}
	r.mu.Unlock()
	if !at.After(now) {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && at.After(dl) {
		return &ProviderError{Err: fmt.Errorf("rate limited: the provider asked not to be called before %s, after this query's time",
			at.UTC().Format("15:04:05.000")), RetryAfter: at}
	}
	return sleepUntil(ctx, at)
}

// hold keeps every request of the provider from going out before at.
func (r *retrier) hold(at time.Time) {
	r.mu.Lock()
	r.notBefore = later(r.notBefore, at)
	r.mu.Unlock()
}

// rewind returns a copy of req with a fresh body for sending it again.
func rewind(ctx context.Context, req *http.Request) (*http.Request, error) {
	next := req.Clone(ctx)
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("retry: %w", err)
		}
		next.Body = b
	}
	return next, nil
}

func sleepUntil(ctx context.Context, at time.Time) error {
	return Sleep(ctx, time.Until(at))
}

// Sleep waits d, or until ctx is done (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
