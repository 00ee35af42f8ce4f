package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit bounds how fast one API token or web session may send requests: a
// token bucket of Burst requests refilled at PerSecond.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// DefaultRateLimit applies to every authenticated caller when Deps.RateLimit is
// zero: far above what a person, the CLI or the web UI sends, low enough that a
// runaway script cannot crowd out everyone else.
var DefaultRateLimit = RateLimit{PerSecond: 20, Burst: 100}

// CodeRateLimited is the error code of a request refused by the rate limit.
const CodeRateLimited = "rate_limited"

// maxBuckets bounds the limiter's memory; beyond it, full (idle) buckets are dropped.
const maxBuckets = 10000

// limiter keeps one token bucket per caller.
type limiter struct {
	rl  RateLimit
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rl RateLimit, now func() time.Time) *limiter {
	return &limiter{rl: rl, now: now, buckets: map[string]*bucket{}}
}

// allow takes one request from key's bucket; when it is empty it reports how long
// until the next request would be allowed.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.rl.Burst), at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(l.rl.Burst), b.tokens+now.Sub(b.at).Seconds()*l.rl.PerSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rl.PerSecond * float64(time.Second))
}

// prune drops the buckets that have refilled completely; a caller that comes back
// gets a full bucket, which is what it would have had anyway.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rl.PerSecond >= float64(l.rl.Burst) {
			delete(l.buckets, k)
		}
	}
}

// rateLimited refuses requests of an authenticated caller beyond its rate limit
// with 429 and Retry-After. Callers without a token or session (authentication off,
// public routes) are not limited: with authentication off the server listens on
// loopback only.
func (h *handler) rateLimited(next http.Handler) http.Handler {
	rl := h.RateLimit
	if rl == (RateLimit{}) {
		rl = DefaultRateLimit
	}
	if h.Auth == nil || rl.PerSecond <= 0 || rl.Burst <= 0 {
		return next
	}
	l := newLimiter(rl, time.Now)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := IdentityFrom(r.Context())
		if id.TokenID == "" {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := l.allow(id.TokenID); !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			h.fail(w, r, &apiError{status: http.StatusTooManyRequests, code: CodeRateLimited,
				msg: fmt.Sprintf("more than %d requests at once or %g a second from this %s; retry in %ds", rl.Burst, rl.PerSecond, id.Method, secs)})
			return
		}
		next.ServeHTTP(w, r)
	})
}
