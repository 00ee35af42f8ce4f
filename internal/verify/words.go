package verify

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Unit is what a metric's values measure; it decides how they are written.
type Unit string

// Units a metric may declare (spec.MetricUnits lists the same names).
const (
	UnitNone    Unit = ""        // a plain number
	UnitPercent Unit = "percent" // already a percentage: 2.6 is 2.6%
	UnitRatio   Unit = "ratio"   // a fraction written as a percentage: 0.026 is 2.6%
	UnitMillis  Unit = "ms"      // milliseconds
	UnitSeconds Unit = "s"       // seconds
	UnitCount   Unit = "count"   // a number of things (requests, lines)
	UnitRPS     Unit = "rps"     // requests per second
	UnitBytes   Unit = "bytes"   // a size, written in B, KiB, MiB or GiB
)

// Format writes v in the unit: "2.6%", "120 ms", "1.5 s", "12 req/s", "3.2 MiB".
func (u Unit) Format(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch u {
	case UnitRatio:
		return num(100*v) + "%"
	case UnitPercent:
		return num(v) + "%"
	case UnitMillis:
		if math.Abs(v) >= 1000 {
			return num(v/1000) + " s"
		}
		return num(v) + " ms"
	case UnitSeconds:
		if v != 0 && math.Abs(v) < 1 {
			return num(1000*v) + " ms"
		}
		return num(v) + " s"
	case UnitRPS:
		return num(v) + " req/s"
	case UnitBytes:
		return bytesString(v)
	}
	return num(v)
}

// num writes v with at most three significant digits below 100 and as a whole
// number from 100, never in exponent form for everyday magnitudes.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 0.001:
		r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func bytesString(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return num(v) + " " + units[i]
}

// builtinQuery matches the builtin provider's query names, whose unit is known.
var builtinQuery = regexp.MustCompile(`^\s*([a-z_0-9]+)(\(\s*[0-9.]+\s*\))?\s*$`)

// DefaultUnit is the unit of a metric that does not declare one: ratio for the
// sequential judge (a rate of events among trials) and for the builtin
// provider's rate queries, ms for its latency queries, rps and count for its
// rate and counts; otherwise none (a plain number).
func DefaultUnit(judge, query string) Unit {
	if judge == JudgeSequential {
		return UnitRatio
	}
	m := builtinQuery.FindStringSubmatch(query)
	if m == nil {
		return UnitNone
	}
	switch name := m[1]; {
	case strings.HasSuffix(name, "_rate"):
		return UnitRatio
	case strings.HasSuffix(name, "_ms"):
		return UnitMillis
	case name == "rps":
		return UnitRPS
	case name == "requests" || name == "errors" || name == "fallbacks":
		return UnitCount
	}
	return UnitNone
}

// Summary is a measurement in numbers and in plain words: what consoles,
// notifications, the UI and reports show. Values are in the metric's unit as
// the query answers them (a ratio of 0.026 is 0.026); Text writes them.
type Summary struct {
	// Title is the metric's display name (its title, else its name).
	Title string `json:"title"`
	Unit  Unit   `json:"unit,omitempty"`
	// Canary and Baseline are the values judged; for the sequential judge, the
	// event rates summed over the analysis so far.
	Canary   *Float `json:"canary,omitempty"`
	Baseline *Float `json:"baseline,omitempty"`
	// Limit is the bound the judge holds the canary to, when it is one number:
	// Bound "max" (the canary fails above it) or "min" (below it).
	Limit *Float `json:"limit,omitempty"`
	Bound string `json:"bound,omitempty"`
	// Rule is the judge's rule in words when it is not one number ("condition
	// result > baseline * 1.2", "median +10% allowed").
	Rule string `json:"rule,omitempty"`
	// Text is the whole verdict in plain words, e.g. "error rate 2.6% on blue
	// vs 0.1% on green — limit 1% — failed".
	Text string `json:"text"`
}

// Phrase returns the verdict's outcome in words: "passed", "failed",
// "inconclusive: why" or "error: what".
func Phrase(v Verdict, reason, errText string) string {
	switch v {
	case Successful:
		return "passed"
	case Failed:
		return "failed"
	case Inconclusive:
		if reason != "" {
			return "inconclusive: " + reason
		}
		return "inconclusive"
	case Error:
		if errText != "" {
			return "error: " + errText
		}
		return "error"
	}
	return v.String()
}

// Describe writes a measurement in plain words; it uses the measurement's
// Summary when it has one (recorded by this version) and otherwise the raw
// observations (older records).
func Describe(ms Measurement) string {
	if ms.Summary != nil && ms.Summary.Text != "" {
		return ms.Summary.Text
	}
	s := summarize(ms.Metric, UnitNone, ms, nil, "")
	return s.Text
}

// summarize builds the Summary of a judged measurement; rule is the judge's
// rule when the caller knows it better than the measurement does (a threshold's
// conditions, the sequential test's evidence).
func summarize(title string, unit Unit, ms Measurement, limit *bound, rule string) *Summary {
	s := &Summary{Title: title, Unit: unit, Rule: rule}
	s.Canary = valueOf(ms.Canary, unit)
	if ms.Baseline != nil {
		s.Baseline = valueOf(*ms.Baseline, unit)
	}
	if limit != nil {
		l := Float(limit.value)
		s.Limit, s.Bound = &l, limit.kind
	}
	s.Text = s.words(ms)
	return s
}

// valueOf is an observation's value: its number, or a tally's rate.
func valueOf(o Observation, unit Unit) *Float {
	switch {
	case o.NoData || o.Pending != "" || len(o.Values) > 0:
		return nil
	case o.Value != nil:
		v := *o.Value
		return &v
	case o.Tally != nil && o.Tally.Trials > 0:
		v := Float(o.Tally.Events / o.Tally.Trials)
		if unit == UnitPercent {
			v *= 100
		}
		return &v
	}
	return nil
}

// words writes the summary's sentence: title, values by slot, rule, outcome.
func (s *Summary) words(ms Measurement) string {
	parts := []string{s.Title + " " + s.observed(ms.Canary, s.Canary)}
	if ms.Baseline != nil {
		parts[0] += " vs " + s.observed(*ms.Baseline, s.Baseline)
	}
	switch {
	case s.Rule != "":
		parts = append(parts, s.Rule)
	case s.Limit != nil && s.Bound == "min":
		parts = append(parts, "at least "+s.Unit.Format(float64(*s.Limit)))
	case s.Limit != nil:
		parts = append(parts, "limit "+s.Unit.Format(float64(*s.Limit)))
	}
	parts = append(parts, Phrase(ms.Verdict, ms.Reason, ms.Error))
	return strings.Join(parts, " — ")
}

// observed writes one slot's value: "2.6% on blue (10 of 384)", "no data on blue".
func (s *Summary) observed(o Observation, v *Float) string {
	slot := " on " + o.Slot
	switch {
	case o.NoData:
		return "no data" + slot
	case o.Pending != "":
		return o.Pending + slot
	case v != nil && o.Tally != nil:
		return fmt.Sprintf("%s%s (%s of %s)", s.Unit.Format(float64(*v)), slot, num(o.Tally.Events), num(o.Tally.Trials))
	case v != nil:
		return s.Unit.Format(float64(*v)) + slot
	case len(o.Values) > 0 || o.Tally != nil:
		return o.String() + slot
	}
	return "no answer" + slot
}

// bound is a one-number limit read from a threshold's conditions.
type bound struct {
	kind  string // "max" or "min"
	value float64
}

// simpleCondition matches "result OP number" and "number OP result".
var (
	resultFirst = regexp.MustCompile(`^\s*result\s*(<=|<|>=|>)\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$`)
	numberFirst = regexp.MustCompile(`^\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(<=|<|>=|>)\s*result\s*$`)
)

// limitOf reads the bound a threshold's conditions put on the result when it is
// one number ("result < 0.01" as a success condition is a max of 0.01); ok is
// false for anything else, which is then shown as the condition itself.
func limitOf(success, failure string) (bound, bool) {
	if failure != "" {
		if b, ok := parseBound(failure); ok {
			b.kind = map[string]string{"max": "min", "min": "max"}[b.kind] // the failure side is the other side
			if success == "" {
				return b, true
			}
			if sb, ok := parseBound(success); ok && sb.kind == b.kind {
				return sb, true
			}
			return b, true
		}
	}
	if success != "" {
		return parseBound(success)
	}
	return bound{}, false
}

// parseBound reads "result < 0.01" (the result must stay below: max) or
// "result >= 0.99" (min), either way round.
func parseBound(cond string) (bound, bool) {
	op, num := "", ""
	if m := resultFirst.FindStringSubmatch(cond); m != nil {
		op, num = m[1], m[2]
	} else if m := numberFirst.FindStringSubmatch(cond); m != nil {
		op, num = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}[m[2]], m[1]
	} else {
		return bound{}, false
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return bound{}, false
	}
	if strings.HasPrefix(op, "<") {
		return bound{kind: "max", value: v}, true
	}
	return bound{kind: "min", value: v}, true
}

// thresholdRule is how a threshold without a one-number bound is shown.
func thresholdRule(success, failure string) string {
	switch {
	case failure != "" && success != "":
		return "fails if " + failure + ", passes if " + success
	case failure != "":
		return "fails if " + failure
	case success != "":
		return "passes if " + success
	}
	return ""
}

// summarize builds the plain-words summary of one judged measurement of m; c
// and b are the providers' answers (nil without data).
func (m *metric) summarize(ms Measurement, c, b *Result) *Summary {
	switch {
	case ms.Verdict == Error && ms.Canary.Value == nil && ms.Canary.Tally == nil:
		return summarize(m.title, m.unit, ms, nil, "")
	case m.judge == JudgeSequential && m.seq != nil:
		return m.summarizeSequential(ms, m.seqWith(ms, c, b))
	case m.judge == JudgeMannWhitney && c != nil && b != nil:
		return m.summarizeComparison(ms, c, b)
	case m.judge == JudgeLogCompare:
		s := &Summary{Title: m.title, Unit: UnitCount}
		s.Rule = ms.Reason
		s.Text = strings.Join([]string{m.title + " on " + ms.Canary.Slot + " vs " + baselineSlot(ms), ms.Reason, Phrase(ms.Verdict, "", ms.Error)}, " — ")
		return s
	case m.threshold != nil:
		if rule, l, ok := m.band(); ok {
			return summarize(m.title, m.unit, ms, &l, rule)
		}
		if l, ok := limitOf(m.threshold.successSrc, m.threshold.failureSrc); ok {
			return summarize(m.title, m.unit, ms, &l, "")
		}
		return summarize(m.title, m.unit, ms, nil, thresholdRule(m.threshold.successSrc, m.threshold.failureSrc))
	}
	return summarize(m.title, m.unit, ms, nil, "")
}

// seqWith is the metric's sequential test as it is with this window counted
// (when the window's counts count: both slots answered, the canary had traffic);
// the metric's own test is left as it is, apply updates it.
func (m *metric) seqWith(ms Measurement, c, b *Result) *Sequential {
	next := m.seq.clone()
	if ms.Counted && c != nil && b != nil && c.Tally != nil && b.Tally != nil && c.Tally.Trials > 0 {
		next.Observe(*c.Tally, *b.Tally)
	}
	return next
}

// summarizeSequential writes the rates summed over the analysis so far and the
// evidence the test holds against the canary.
func (m *metric) summarizeSequential(ms Measurement, seq *Sequential) *Summary {
	ct, bt := seq.Totals()
	sum := ms
	sum.Canary = Observation{Slot: ms.Canary.Slot, Tally: &ct, Pending: ms.Canary.Pending}
	if ms.Baseline != nil {
		sum.Baseline = &Observation{Slot: ms.Baseline.Slot, Tally: &bt, Pending: ms.Baseline.Pending}
	}
	if ct.Trials == 0 && ms.Canary.Pending == "" {
		sum.Canary.NoData = true
	}
	rule := fmt.Sprintf("evidence %s of %s needed", num(seq.Statistic()), num(1/seq.p.Alpha))
	return summarize(m.title, m.unit, sum, nil, rule)
}

// summarizeComparison writes the medians of a Mann-Whitney comparison and the
// change it allows.
func (m *metric) summarizeComparison(ms Measurement, c, b *Result) *Summary {
	p := m.compare.withDefaults()
	cs, bs := finite(sampleValues(c.Sample)), finite(sampleValues(b.Sample))
	sum := ms
	co, bo := ms.Canary, *ms.Baseline
	co.Tally, bo.Tally = nil, nil
	if len(cs) > 0 {
		v := Float(median(cs))
		co.Value = &v
	}
	if len(bs) > 0 {
		v := Float(median(bs))
		bo.Value = &v
	}
	sum.Canary, sum.Baseline = co, &bo
	rule := fmt.Sprintf("median change allowed %s%% %s at %s%% confidence", num(100*p.EffectSize), p.Direction, num(100*p.Confidence))
	if cmp := MannWhitney(cs, bs, p); !math.IsNaN(cmp.P) {
		rule = fmt.Sprintf("median %+.1f%% (allowed %s%% %s), p=%s at %s%% confidence",
			100*cmp.Effect, num(100*p.EffectSize), p.Direction, strconv.FormatFloat(cmp.P, 'g', 2, 64), num(100*p.Confidence))
	}
	return summarize(m.title, m.unit, sum, nil, rule)
}

func baselineSlot(ms Measurement) string {
	if ms.Baseline == nil {
		return "no baseline"
	}
	return ms.Baseline.Slot
}

// ScoreText writes a scored step's outcome: "score 62 of 100 — pass 95,
// marginal 75 — failed".
func ScoreText(score float64, v Verdict, p ScoreParams, reason string) string {
	if p.Pass == 0 {
		p.Pass, p.Marginal = 95, 75
	}
	outcome := Phrase(v, reason, "")
	if v == Failed && reason != "" {
		outcome += " (" + reason + ")"
	}
	return fmt.Sprintf("score %s of 100 — pass %s, marginal %s — %s", num(score), num(p.Pass), num(p.Marginal), outcome)
}

// band reads a threshold with both conditions as one-number bounds on the same
// side, passing below one and failing above another ("passes below 1%, fails
// above 5%"); the failure bound is the limit.
func (m *metric) band() (string, bound, bool) {
	sb, sok := parseBound(m.threshold.successSrc)
	fb, fok := parseBound(m.threshold.failureSrc)
	if !sok || !fok || sb.kind == fb.kind || sb.value == fb.value {
		return "", bound{}, false
	}
	if sb.kind == "max" {
		return fmt.Sprintf("passes below %s, fails above %s", m.unit.Format(sb.value), m.unit.Format(fb.value)),
			bound{kind: "max", value: fb.value}, true
	}
	return fmt.Sprintf("passes above %s, fails below %s", m.unit.Format(sb.value), m.unit.Format(fb.value)),
		bound{kind: "min", value: fb.value}, true
}
