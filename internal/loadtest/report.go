package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Error kinds counted in Report.Errors.
const (
	ErrKind4xx     = "4xx"     // the instance answered with a client error status
	ErrKind5xx     = "5xx"     // the instance answered with a server error status
	ErrKindConnect = "connect" // no connection could be made
	ErrKindTimeout = "timeout" // no complete answer within the per-request timeout
	ErrKindOther   = "other"   // the connection broke or the answer was malformed
)

// Latency is a latency summary in milliseconds, so that conditions read naturally.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Report is one measurement of a load test: a progress record while it runs, or the
// final one (Final set, with its verdict) when the duration has ended.
type Report struct {
	Slot         string           `json:"slot"`   // blue or green; empty for a url
	Target       string           `json:"target"` // new, live or url
	Run          int              `json:"run"`    // 1, or more when a restart made the load run again
	Final        bool             `json:"final,omitempty"`
	Elapsed      float64          `json:"elapsedSeconds"`
	Requests     int64            `json:"requests"` // completed, successes and errors
	Successes    int64            `json:"successes"`
	Errors       map[string]int64 `json:"errors,omitempty"` // by kind: 4xx, 5xx, connect, timeout, other
	ErrorRate    float64          `json:"errorRate"`        // errors / requests, 0..1
	TargetRate   float64          `json:"targetRate"`       // requests per second asked for
	AchievedRate float64          `json:"achievedRate"`     // completed requests per second
	Unsent       int64            `json:"unsent,omitempty"` // due but never sent: every worker was busy until the end
	Latency      Latency          `json:"latencyMs"`
	Passed       bool             `json:"passed,omitempty"`
	Reason       string           `json:"reason,omitempty"` // why the final report failed
	// StoppedEarly says why the load stopped before its duration: its error
	// limit was broken beyond chance (see limitTest).
	StoppedEarly string `json:"stoppedEarly,omitempty"`
}

// Limits are the thresholds a final report is judged against.
type Limits struct {
	MaxErrorRate float64       // share 0..1; a load test fails above it
	MaxP99       time.Duration // 0: no latency limit
}

// stats accumulates the outcome of requests from many workers.
type stats struct {
	mu        sync.Mutex
	successes int64
	errors    map[string]int64
	hist      histogram
}

func newStats() *stats { return &stats{errors: map[string]int64{}} }

// observe counts one completed request; kind is empty for a success.
func (s *stats) observe(kind string, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == "" {
		s.successes++
	} else {
		s.errors[kind]++
	}
	s.hist.add(latency)
}

// report summarises the requests so far, elapsed after the start.
func (s *stats) report(elapsed time.Duration, targetRate float64) Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{Elapsed: elapsed.Seconds(), Successes: s.successes, TargetRate: targetRate}
	var errs int64
	if len(s.errors) > 0 {
		r.Errors = maps.Clone(s.errors)
		for _, n := range s.errors {
			errs += n
		}
	}
	r.Requests = s.successes + errs
	if r.Requests > 0 {
		r.ErrorRate = float64(errs) / float64(r.Requests)
	}
	if elapsed > 0 {
		r.AchievedRate = float64(r.Requests) / elapsed.Seconds()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.Latency = Latency{
		P50: ms(s.hist.quantile(0.50)), P90: ms(s.hist.quantile(0.90)), P99: ms(s.hist.quantile(0.99)),
		Max: ms(s.hist.max), Mean: ms(s.hist.mean()),
	}
	return r
}

// LimitError is the error of a load test whose outcome broke a limit (or that
// completed no request); check for it with errors.As.
type LimitError struct {
	Report  Report
	Reasons []string // each names the measured number and the limit it broke
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("loadtest %s: %s", e.Report.Slot, strings.Join(e.Reasons, "; "))
}

// Judge returns nil when the report is within the limits, or a *LimitError that
// names the measured numbers and the limits they broke.
func (r Report) Judge(l Limits) error {
	var why []string
	if r.Requests == 0 {
		why = append(why, fmt.Sprintf("no request completed in %s", seconds(r.Elapsed)))
	}
	if r.Requests > 0 && r.ErrorRate > l.MaxErrorRate {
		why = append(why, fmt.Sprintf("error rate %s (%s of %s requests: %s) is above maxErrorRate %s",
			pct(r.ErrorRate), commas(r.Requests-r.Successes), commas(r.Requests), r.errorKinds(), pct(l.MaxErrorRate)))
	}
	if l.MaxP99 > 0 && r.Latency.P99 > float64(l.MaxP99.Microseconds())/1000 {
		why = append(why, fmt.Sprintf("p99 %s is above maxP99 %s", millis(r.Latency.P99), l.MaxP99))
	}
	if len(why) == 0 {
		return nil
	}
	return &LimitError{Report: r, Reasons: why}
}

// Line is the report as one console line.
func (r Report) Line() string {
	label := r.Slot
	if label == "" {
		label = r.Target // a url
	}
	s := fmt.Sprintf("loadtest %s: %s req in %s (%s/s of %s/s), %s errors, p50 %s, p99 %s, max %s",
		label, commas(r.Requests), seconds(r.Elapsed), strconv.FormatFloat(r.AchievedRate, 'f', 0, 64),
		strconv.FormatFloat(r.TargetRate, 'f', 0, 64), pct(r.ErrorRate),
		millis(r.Latency.P50), millis(r.Latency.P99), millis(r.Latency.Max))
	if len(r.Errors) > 0 {
		s += " [" + r.errorKinds() + "]"
	}
	if r.Unsent > 0 {
		s += fmt.Sprintf(", %s unsent (all workers busy)", commas(r.Unsent))
	}
	return s
}

// errorKinds lists the error counts by kind, e.g. "5xx 12, timeout 3".
func (r Report) errorKinds() string {
	parts := make([]string, 0, len(r.Errors))
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		parts = append(parts, fmt.Sprintf("%s %s", k, commas(r.Errors[k])))
	}
	return strings.Join(parts, ", ")
}

func pct(share float64) string {
	return strconv.FormatFloat(share*100, 'f', 1, 64) + "%"
}

func millis(ms float64) string {
	if ms >= 100 {
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}

// commas formats n with thousands separators: 12,345.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
