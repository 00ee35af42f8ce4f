package verify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// LogTemplate is a group of log lines that differ only in their variable parts
// (numbers, ids, hex, times, quoted strings).
type LogTemplate struct {
	Pattern string `json:"pattern"`
	Count   int    `json:"count"`
	Sample  string `json:"sample"`
	// Error says the lines are of error severity (error, fatal, panic, exception,
	// or a 5xx status).
	Error bool `json:"error"`
}

// maskers replace the variable parts of a log line, most specific first.
var maskers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?`), "<time>"},
	{regexp.MustCompile(`\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b`), "<time>"},
	{regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`), "<id>"},
	{regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b`), "<ip>"},
	{regexp.MustCompile(`\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b`), "<hex>"},
	{regexp.MustCompile(`"[^"]*"|'[^']*'`), "<str>"},
	{regexp.MustCompile(`-?\b\d+(?:\.\d+)?(?:ms|s|µs|ns|%)?\b`), "<num>"},
}

var errorWords = regexp.MustCompile(`(?i)\b(error|err|fatal|panic|exception|critical|crit|traceback)\b|level=(error|fatal|crit)|\b5\d\d\b`)

// Mask returns a log line's template: its variable parts replaced.
func Mask(line string) string {
	for _, m := range maskers {
		line = m.re.ReplaceAllString(line, m.with)
	}
	return strings.Join(strings.Fields(line), " ")
}

// GroupLogs groups lines by template, the most frequent first.
func GroupLogs(lines []string) []LogTemplate {
	byPattern := map[string]*LogTemplate{}
	var order []*LogTemplate
	for _, l := range lines {
		p := Mask(l)
		t := byPattern[p]
		if t == nil {
			t = &LogTemplate{Pattern: p, Sample: l, Error: errorWords.MatchString(l)}
			byPattern[p] = t
			order = append(order, t)
		}
		t.Count++
	}
	out := make([]LogTemplate, len(order))
	for i, t := range order {
		out[i] = *t
	}
	slices.SortStableFunc(out, func(a, b LogTemplate) int { return b.Count - a.Count })
	return out
}

// LogParams configure the log judge.
type LogParams struct {
	// RateFactor is how many times more frequent (per line of each side) an error
	// template must be in the canary than in the baseline to fail; default 5.
	RateFactor float64
	// MinCount is the fewest canary lines of a template that can fail; default 3.
	MinCount int
}

// LogFinding is an error template that fails the log judge.
type LogFinding struct {
	LogTemplate
	BaselineCount int  `json:"baselineCount"`
	New           bool `json:"new"` // absent from the baseline
}

// String describes the finding for the console.
func (f LogFinding) String() string {
	what := fmt.Sprintf("%d× in canary vs %d× in baseline", f.Count, f.BaselineCount)
	if f.New {
		what = fmt.Sprintf("%d× in canary, new", f.Count)
	}
	return fmt.Sprintf("%s: %s (e.g. %q)", what, f.Pattern, f.Sample)
}

// CompareLogs is the log judge: canary error templates that the baseline does
// not have, or has at a much lower rate, fail. Rates are per line of each side's
// log; the canary usually has fewer lines, as it has less traffic.
func CompareLogs(canary, baseline []string, p LogParams) (Verdict, []LogFinding) {
	if p.RateFactor <= 0 {
		p.RateFactor = 5
	}
	if p.MinCount <= 0 {
		p.MinCount = 3
	}
	base := map[string]int{}
	for _, t := range GroupLogs(baseline) {
		base[t.Pattern] = t.Count
	}
	var out []LogFinding
	for _, t := range GroupLogs(canary) {
		if !t.Error || t.Count < p.MinCount {
			continue
		}
		b := base[t.Pattern]
		f := LogFinding{LogTemplate: t, BaselineCount: b, New: b == 0}
		canaryRate := float64(t.Count) / float64(len(canary))
		baseRate := float64(b) / float64(max(len(baseline), 1))
		if f.New || canaryRate > p.RateFactor*baseRate {
			out = append(out, f)
		}
	}
	if len(out) > 0 {
		return Failed, out
	}
	return Successful, nil
}
