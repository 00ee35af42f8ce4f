package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Float is a float64 that survives JSON when it is NaN or infinite (written as the
// strings "NaN", "+Inf", "-Inf").
type Float float64

// MarshalJSON writes the number, or a string for NaN and infinities.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or one of the strings MarshalJSON writes.
func (f *Float) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("float %q: %w", s, err)
		}
		*f = Float(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Observation is what one query for one slot gave.
type Observation struct {
	Slot     string           `json:"slot"`
	Query    string           `json:"query"`
	Value    *Float           `json:"value,omitempty"`
	Values   map[string]Float `json:"values,omitempty"`
	Tally    *Tally           `json:"tally,omitempty"`
	Points   int              `json:"points,omitempty"`
	NoData   bool             `json:"noData,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
	// Covered is the window the answer really covers when the provider says so
	// (the builtin provider's first window after a restart is shorter).
	Covered string `json:"covered,omitempty"`
	// Reading is what a query pair with running counts (counts: cumulative)
	// read: the counts so far, whose growth since the previous reading is Tally.
	Reading *Tally `json:"reading,omitempty"`
	// Pending says why a reading gave no counts yet: it was the first, or the
	// counts went down (a counter reset).
	Pending string `json:"pending,omitempty"`
}

// Measurement is one judged measurement of one metric, as recorded with the
// execution (StepContext.Record kind "measurement") and shown on the console.
type Measurement struct {
	Metric   string       `json:"metric"`
	Judge    string       `json:"judge"`
	Index    int          `json:"index"` // which scheduled measurement; retries share it
	At       time.Time    `json:"at"`
	Window   string       `json:"window"`
	Canary   Observation  `json:"canary"`
	Baseline *Observation `json:"baseline,omitempty"`
	Verdict  Verdict      `json:"verdict"`
	// Reason is the condition or the judge's summary that decided the verdict.
	Reason string `json:"reason,omitempty"`
	// Error is the provider's or the expression's error, credentials removed.
	Error string `json:"error,omitempty"`
	// Templates are the most frequent templates of a log check's lines, each
	// with its count and a sample line.
	Templates []LogTemplate `json:"templates,omitempty"`
	// Counted says whether the measurement counts toward the metric's limits (a
	// sequential window without data does not).
	Counted bool `json:"counted"`
	// Summary is the measurement in plain words, with the numbers it shows in
	// the metric's unit; absent from records written before units existed.
	Summary *Summary `json:"summary,omitempty"`
	// ProviderError says the Error is the provider's trouble (no answer, 5xx,
	// 429 beyond the query's time, a malformed answer), not the canary's.
	ProviderError bool `json:"providerError,omitempty"`
	// RetryAfter is when the provider said it will answer again.
	RetryAfter *time.Time `json:"retryAfter,omitempty"`
	// Evidence is the canary traffic the judge has seen and needs before a pass
	// (sequential metrics, and thresholds over counts); see EvidenceNote.
	Evidence *Evidence `json:"evidence,omitempty"`
}

// observe turns a provider's result into an observation.
func observe(slot, query string, r Result) Observation {
	o := Observation{Slot: slot, Query: query, Tally: r.Tally, Points: len(r.Sample), Warnings: r.Warnings}
	if r.Window > 0 {
		o.Covered = r.Window.Round(time.Millisecond).String()
	}
	if !math.IsNaN(r.Value) {
		v := Float(r.Value)
		o.Value = &v
	}
	if len(r.Values) > 0 {
		o.Values = make(map[string]Float, len(r.Values))
		for k, v := range r.Values {
			o.Values[k] = Float(v)
		}
	}
	return o
}

// String summarises the observation's value for the console.
func (o Observation) String() string {
	switch {
	case o.NoData:
		return "no data"
	case o.Pending != "":
		return o.Pending
	case o.Tally != nil:
		return fmt.Sprintf("%g of %g", o.Tally.Events, o.Tally.Trials)
	case o.Value != nil && len(o.Values) == 0:
		return strconv.FormatFloat(float64(*o.Value), 'g', 5, 64)
	}
	b, _ := json.Marshal(o.Values)
	return string(b)
}
