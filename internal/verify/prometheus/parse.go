package prometheus

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/verify"
)

// data is the data of a query answer.
type data struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// series is one labelled series of a vector (Value) or a matrix (Values).
type series struct {
	Metric map[string]string   `json:"metric"`
	Value  []json.RawMessage   `json:"value"`
	Values [][]json.RawMessage `json:"values"`
}

// ParseData turns the data of a Prometheus-compatible query answer (scalar,
// vector or matrix, as Prometheus, Loki, Mimir and Thanos give) into a result:
// one series or an error, NaN and empty results as verify.ErrNoData.
func ParseData(raw json.RawMessage) (verify.Result, error) {
	var d data
	if err := json.Unmarshal(raw, &d); err != nil || d.ResultType == "" {
		return verify.Result{}, fmt.Errorf("prometheus: answer without a result type")
	}
	switch d.ResultType {
	case "scalar":
		var s []json.RawMessage
		if err := json.Unmarshal(d.Result, &s); err != nil {
			return verify.Result{}, fmt.Errorf("prometheus: scalar: %w", err)
		}
		return value(s)
	case "vector", "matrix":
		var ss []series
		if err := json.Unmarshal(d.Result, &ss); err != nil {
			return verify.Result{}, fmt.Errorf("prometheus: %s: %w", d.ResultType, err)
		}
		if err := one(ss); err != nil {
			return verify.Result{}, err
		}
		if d.ResultType == "vector" {
			return value(ss[0].Value)
		}
		return sample(ss[0].Values)
	}
	return verify.Result{}, fmt.Errorf("prometheus: result type %q is not a number", d.ResultType)
}

// one checks that a query gave exactly one series.
func one(ss []series) error {
	switch len(ss) {
	case 0:
		return fmt.Errorf("prometheus: empty result: %w", verify.ErrNoData)
	case 1:
		return nil
	}
	return fmt.Errorf("prometheus: the query gave %d series (%s, ...); aggregate them to one, e.g. with sum(...)", len(ss), labels(ss[0].Metric))
}

func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// point reads a [timestamp, "value"] pair.
func point(p []json.RawMessage) (verify.Point, error) {
	if len(p) != 2 {
		return verify.Point{}, fmt.Errorf("prometheus: a sample has %d parts, not 2", len(p))
	}
	var ts float64
	var s string
	if err := json.Unmarshal(p[0], &ts); err != nil {
		return verify.Point{}, fmt.Errorf("prometheus: sample time: %w", err)
	}
	if err := json.Unmarshal(p[1], &s); err != nil {
		return verify.Point{}, fmt.Errorf("prometheus: sample value is not a string: %w", err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return verify.Point{}, fmt.Errorf("prometheus: sample value %q: %w", s, err)
	}
	sec, frac := math.Modf(ts)
	return verify.Point{At: time.Unix(int64(sec), int64(frac*1e9)).UTC(), Value: v}, nil
}

// value reads an instant value; NaN (0/0, often no traffic) is no data.
func value(p []json.RawMessage) (verify.Result, error) {
	pt, err := point(p)
	if err != nil {
		return verify.Result{}, err
	}
	if math.IsNaN(pt.Value) {
		return verify.Result{}, fmt.Errorf("prometheus: value is NaN: %w", verify.ErrNoData)
	}
	return verify.Number(pt.Value), nil
}

// sample reads a range series; NaN points are dropped and the last remaining
// point is the value.
func sample(ps [][]json.RawMessage) (verify.Result, error) {
	r := verify.Result{Value: math.NaN()}
	for _, p := range ps {
		pt, err := point(p)
		if err != nil {
			return verify.Result{}, err
		}
		if !math.IsNaN(pt.Value) {
			r.Sample = append(r.Sample, pt)
		}
	}
	if len(r.Sample) == 0 {
		return verify.Result{}, fmt.Errorf("prometheus: no point but NaN in the window: %w", verify.ErrNoData)
	}
	r.Value = r.Sample[len(r.Sample)-1].Value
	return r, nil
}
