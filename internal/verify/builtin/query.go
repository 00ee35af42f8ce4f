package builtin

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/verify"
)

// expression is a parsed query: a metric name and its optional argument.
type expression struct {
	name string
	arg  float64 // percentile for pNN_ms, milliseconds for slow_rate
}

var (
	percentile = regexp.MustCompile(`^p(\d{1,2}(?:\.\d+)?)_ms$`)
	call       = regexp.MustCompile(`^([a-z_]+)\(\s*([0-9.]+)\s*(?:ms)?\s*\)$`)
)

// names lists the query language for error messages.
const names = "requests, rps, errors, error_rate, client_error_rate, success_rate, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms (any pNN_ms), latency_ms, slow_rate(<ms>), fallbacks"

// parse reads a query of the built-in provider's language.
func parse(text string) (expression, error) {
	t := strings.TrimSpace(text)
	if m := percentile.FindStringSubmatch(t); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		if v <= 0 || v >= 100 {
			return expression{}, fmt.Errorf("builtin: query %q: the percentile must be between 0 and 100", text)
		}
		return expression{name: "quantile", arg: v / 100}, nil
	}
	if m := call.FindStringSubmatch(t); m != nil && m[1] == "slow_rate" {
		ms, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return expression{}, fmt.Errorf("builtin: query %q: %w", text, err)
		}
		if !isBound(ms) {
			return expression{}, fmt.Errorf("builtin: query %q: slow_rate needs one of the histogram's bounds in ms: %s", text, bounds())
		}
		return expression{name: "slow_rate", arg: ms}, nil
	}
	switch t {
	case "requests", "rps", "errors", "error_rate", "client_error_rate", "success_rate", "mean_ms", "latency_ms", "fallbacks":
		return expression{name: t}, nil
	}
	return expression{}, fmt.Errorf("builtin: unknown query %q (known: %s)", text, names)
}

// eval computes the expression over one slot's window.
func (e expression) eval(w proxy.SlotMetrics, span time.Duration) (verify.Result, error) {
	n := float64(w.Requests())
	errs := float64(w.ServerErrors() + w.ProxyErrors())
	switch e.name {
	case "requests":
		return verify.Number(n), nil
	case "rps":
		if span <= 0 {
			return verify.Result{}, fmt.Errorf("builtin: rps over an empty window: %w", verify.ErrNoData)
		}
		return verify.Number(n / span.Seconds()), nil
	case "errors":
		return verify.Number(errs), nil
	case "fallbacks":
		return verify.Number(float64(w.Fallbacks)), nil
	}
	if n == 0 {
		return verify.Result{}, fmt.Errorf("builtin: no requests in the window: %w", verify.ErrNoData)
	}
	switch e.name {
	case "error_rate":
		return rate(errs, n), nil
	case "client_error_rate":
		return rate(float64(w.ClientErrors()), n), nil
	case "success_rate":
		return rate(float64(w.Success()), n), nil
	case "slow_rate":
		return rate(slower(w, e.arg), n), nil
	case "mean_ms":
		return verify.Number(ms(w.Mean())), nil
	case "quantile":
		return verify.Number(ms(w.Quantile(e.arg))), nil
	}
	return verify.Result{Value: math.NaN(), Values: map[string]float64{
		"p50": ms(w.Quantile(0.5)), "p90": ms(w.Quantile(0.9)), "p99": ms(w.Quantile(0.99)), "mean": ms(w.Mean()),
	}}, nil
}

// rate is a share of requests that also carries its tally for sequential judges.
func rate(events, n float64) verify.Result {
	return verify.Result{Value: events / n, Tally: &verify.Tally{Events: events, Trials: n}}
}

// slower counts the window's requests slower than a histogram bound.
func slower(w proxy.SlotMetrics, boundMS float64) float64 {
	var n uint64
	for i, b := range proxy.LatencyBuckets() {
		if ms(b) > boundMS {
			n += w.Buckets[i]
		}
	}
	return float64(n + w.Buckets[len(w.Buckets)-1])
}

func isBound(msv float64) bool {
	for _, b := range proxy.LatencyBuckets() {
		if ms(b) == msv {
			return true
		}
	}
	return false
}

func bounds() string {
	var s []string
	for _, b := range proxy.LatencyBuckets() {
		s = append(s, strconv.FormatFloat(ms(b), 'g', -1, 64))
	}
	return strings.Join(s, ", ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
