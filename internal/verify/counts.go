package verify

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
)

// Count modes of a metric's query pair (spec MetricCheck.Counts).
const (
	// CountsWindow says query and total count the window's requests.
	CountsWindow = "window"
	// CountsCumulative says query and total are running counts (a Prometheus
	// counter, a count since the analysis began); sluice counts their growth
	// between evaluations, so every request is counted once, however late the
	// source learns of it and however its windows fall.
	CountsCumulative = "cumulative"
)

// Pending reasons of a cumulative reading that gives no counts.
const (
	pendingFirst = "first reading"
	pendingReset = "counts went down (a counter reset)"
)

// counts runs a metric's query pair for one slot: query counts the failed
// requests (events) and total every request (trials). No data from query while
// total has some is zero events: an error counter exists only after the first
// error. With cumulative counts the window is the analysis so far, and the tally
// is the growth since the metric's previous reading of the slot. The events are
// read before the total, so a scrape landing between the two reads can only
// delay events to the next window, never count more events than requests.
func (a *analysis) counts(ctx context.Context, m *metric, slot platform.Slot, end time.Time, window time.Duration) (Observation, *Result, error) {
	if m.cumulative {
		window = max(end.Sub(a.begin), time.Second).Round(time.Second)
	}
	eo, er, err := a.ask(ctx, m, m.query, slot, end, window)
	if err != nil {
		return eo, nil, err
	}
	to, tr, err := a.ask(ctx, m, m.total, slot, end, window)
	shown := eo.Query + " of " + to.Query
	o := Observation{Slot: string(slot), Query: shown, Warnings: append(eo.Warnings, to.Warnings...)}
	switch {
	case err != nil:
		return o, nil, err
	case tr == nil:
		o.NoData = true
		return o, nil, nil
	}
	reading, err := countsOf(er, tr)
	if err != nil {
		return o, nil, fmt.Errorf("%s on %s: %w", m.name, slot, err)
	}
	t := reading
	if m.cumulative {
		o.Reading = &reading
		prev, ok := m.readings[string(slot)]
		switch {
		case !ok:
			o.Pending = pendingFirst
		case reading.Events < prev.Events || reading.Trials < prev.Trials:
			o.Pending = pendingReset
		}
		if o.Pending != "" {
			return o, nil, nil
		}
		t = Tally{Events: reading.Events - prev.Events, Trials: reading.Trials - prev.Trials}
	}
	o.Tally = &t
	r := Result{Value: math.NaN(), Tally: &t}
	if t.Trials > 0 {
		r.Value = t.Events / t.Trials
	}
	return o, &r, nil
}

// countsOf reads the counts of a query pair's answers; events is nil when the
// query had no data.
func countsOf(events, total *Result) (Tally, error) {
	var t Tally
	if events != nil {
		t.Events = events.Value
	}
	t.Trials = total.Value
	for _, c := range []struct {
		what string
		v    float64
	}{{"query", t.Events}, {"total", t.Trials}} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v < 0 {
			return Tally{}, fmt.Errorf("%s gave %g, which is not a count (a single number of requests, 0 or more)", c.what, c.v)
		}
	}
	return t, nil
}

// keepReadings remembers the running counts a measurement read, live or
// replayed, for the next one's growth.
func (m *metric) keepReadings(ms Measurement) {
	for _, o := range []*Observation{&ms.Canary, ms.Baseline} {
		if o != nil && o.Reading != nil {
			m.readings[o.Slot] = *o.Reading
		}
	}
}

// pendingReason explains a window whose running counts had no growth to judge.
func pendingReason(ms *Measurement) string {
	var parts []string
	for _, o := range []*Observation{&ms.Canary, ms.Baseline} {
		if o != nil && o.Pending != "" {
			parts = append(parts, fmt.Sprintf("%s on %s", o.Pending, o.Slot))
		}
	}
	return strings.Join(parts, ", ") + "; counting starts with the next window"
}
