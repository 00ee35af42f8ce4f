package spec

import (
	"strings"
	"testing"
)

// metricHead starts a verify step with one metric at line 13 of the document, its
// fields indented at column 15.
const metricHead = wfHead + `        - verify:
            metrics:
              - {name: m, provider: p, query: q, successCondition: result < 1}
`

// vmetric is a verify step whose one metric (at line 13) has the given extra
// fields, one per line from line 14; step fields (from line 15) may follow.
func vmetric(metricFields, stepFields string) string {
	return wfHead + "        - verify:\n            metrics:\n              - name: m\n" +
		"                provider: p\n" + metricFields + stepFields
}

// judgeFieldCases has one mistake per judge field of a verify step.
var judgeFieldCases = []struct {
	name, src, want string
}{
	{"window zero", vmetric("                query: q\n                successCondition: result < 1\n                window: 0\n", ""),
		`17:25: metric m: window must be longer than 0`},
	{"window on a sequential metric", vmetric("                query: error_rate\n                judge: sequential\n                window: 10s\n", ""),
		`17:25: metric m: the sequential judge sums one window per evaluation`},
	{"unit unknown", vmetric("                query: q\n                successCondition: result < 1\n                unit: percents\n", ""),
		`17:23: unknown unit "percents"; did you mean "percent"?`},
	{"unit not in the set", vmetric("                query: q\n                successCondition: result < 1\n                unit: furlongs\n", ""),
		`17:23: unknown unit "furlongs"; use one of: percent, ratio, ms, s, count, rps, bytes`},
	{"direction unknown", vmetric("                query: q\n                judge: mannwhitney\n                direction: up\n", ""),
		`17:28: unknown direction "up"; use one of: increase, decrease, either`},
	{"direction on a threshold metric", vmetric("                query: q\n                successCondition: result < 1\n                direction: decrease\n", ""),
		`17:28: metric m: direction is used by the mannwhitney judge only (this metric's judge is threshold)`},
	{"confidence above 1", vmetric("                query: q\n                judge: mannwhitney\n                confidence: 95\n", ""),
		`17:29: metric m: confidence 95 must be between 0 and 1 (exclusive), e.g. 0.95 or 95%`},
	{"confidence not a number", vmetric("                query: q\n                judge: mannwhitney\n                confidence: high\n", ""),
		`17:29: expected a number like 0.95 or a percentage like 95%, got "high"`},
	{"confidence on a sequential metric", vmetric("                query: error_rate\n                judge: sequential\n                confidence: 99%\n", ""),
		`17:29: metric m: confidence is used by the mannwhitney judge only (this metric's judge is sequential)`},
	{"effectSize negative", vmetric("                query: q\n                judge: mannwhitney\n                effectSize: -10%\n", ""),
		`17:29: metric m: effectSize -0.1 must not be negative`},
	{"alpha out of range", vmetric("                query: error_rate\n                judge: sequential\n                alpha: 1\n", ""),
		`17:24: metric m: alpha 1 must be between 0 and 1 (exclusive), e.g. 0.01 or 1%`},
	{"alpha on a mannwhitney metric", vmetric("                query: q\n                judge: mannwhitney\n                alpha: 0.05\n", ""),
		`17:24: metric m: alpha is used by the sequential judge only (this metric's judge is mannwhitney; mannwhitney uses confidence)`},
	{"minSamples on a sequential metric", vmetric("                query: error_rate\n                judge: sequential\n                minSamples: 10\n", ""),
		`17:29: metric m: minSamples is used by the mannwhitney judge only (this metric's judge is sequential; use minRequests)`},
	{"minRequests on a mannwhitney metric", vmetric("                query: q\n                judge: mannwhitney\n                minRequests: 100\n", ""),
		`17:30: metric m: minRequests is used by the sequential and threshold judges`},
	{"minRequests negative", vmetric("                query: error_rate\n                judge: sequential\n                minRequests: -1\n", ""),
		`17:30: metric m: minRequests must not be negative`},
	{"critical without a score", vmetric("                query: q\n                successCondition: result < 1\n                critical: true\n", ""),
		`17:27: metric m sets critical, which only counts in a score: add score: {pass: 95, marginal: 75} to the verify step`},
	{"group without a score", vmetric("                query: q\n                successCondition: result < 1\n                group: latency\n", ""),
		`17:24: metric m sets group, which only counts in a score`},
	{"group not a name", vmetric("                query: q\n                successCondition: result < 1\n                group: Latency Group\n", "            score: {}\n"),
		`17:24: group "Latency Group" is not a valid name`},
	{"weight zero", vmetric("                query: q\n                successCondition: result < 1\n                weight: 0\n", "            score: {}\n"),
		`17:25: metric m: weight 0 must be greater than 0`},
	{"weight not a number", vmetric("                query: q\n                successCondition: result < 1\n                weight: heavy\n", "            score: {}\n"),
		`17:25: expected a number like 2 or 0.5, got "heavy"`},
	{"a group with two weights", metricHead +
		"              - {name: a, provider: p, query: q, successCondition: result < 1, group: g, weight: 2}\n" +
		"              - {name: b, provider: p, query: q, successCondition: result < 1, group: g, weight: 3}\n" +
		"            score: {}\n",
		`15:98: metric b gives group g weight 3, but metric a (line 14) gave it 2; a group has one weight`},
	{"score pass above 100", metricHead + "            score: {pass: 120}\n",
		`14:27: score pass 120 must be above 0 and at most 100`},
	{"score marginal above pass", metricHead + "            score: {pass: 80, marginal: 90}\n",
		`14:20: score marginal 90 is above pass 80`},
	{"step direction unknown", metricHead + "            direction: sideways\n",
		`14:24: unknown direction "sideways"; use one of: increase, decrease, either`},
	{"step confidence out of range", metricHead + "            confidence: 0\n",
		`14:25: verify step: confidence 0 must be between 0 and 1 (exclusive)`},
	{"step window zero", metricHead + "            window: 0s\n",
		`14:21: verify step: window must be longer than 0`},
	{"log judge unknown", wfHead + "        - verify:\n            logs:\n              - {name: l, provider: p, query: q, judge: diff}\n",
		`13:57: unknown log judge "diff"; use one of: count, compare`},
	{"log compare with maxMatches", wfHead + "        - verify:\n            logs:\n              - {name: l, provider: p, query: q, judge: compare, maxMatches: 3}\n",
		`13:78: log check l: maxMatches is used by the count judge only`},
	{"log compare without baseline", wfHead + "        - verify:\n            logs:\n              - {name: l, provider: p, query: q, judge: compare, baseline: false}\n",
		`13:76: log check l: the compare judge compares with the baseline; it cannot be false`},
	{"log count with baseline", wfHead + "        - verify:\n            logs:\n              - {name: l, provider: p, query: q, baseline: true}\n",
		`13:60: log check l: the count judge looks at the new slot only; use judge: compare`},
}

func TestJudgeFieldProblems(t *testing.T) {
	for _, tc := range judgeFieldCases {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, tc.src)
			if len(got) != 1 {
				t.Fatalf("want exactly one problem %q, got %d:\n%s", tc.want, len(got), strings.Join(got, "\n"))
			}
			if !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got  %s\nwant %s", got[0], tc.want)
			}
		})
	}
}

func TestJudgeFieldsDecode(t *testing.T) {
	src := metricHead + `              - name: lat
                provider: p
                query: q
                judge: mannwhitney
                window: 5m
                direction: either
                confidence: 99%
                effectSize: 0
                critical: true
                group: latency
                weight: 2.5
              - {name: errs, provider: p, query: error_rate, judge: sequential, alpha: 0.5%}
            logs:
              - {name: l, provider: p, query: q, judge: compare, baseline: true}
            direction: decrease
            confidence: 0.9
            effectSize: 20%
            alpha: 0.02
            window: 1m
            score: {pass: 90, marginal: 60}
`
	docs, err := ParseDocuments("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	vs := docs[0].Workflow.Spec.Phases[0].Steps[1].Verify
	m, e := vs.Metrics[1], vs.Metrics[2]
	if m.Window.Std().Minutes() != 5 || m.Direction != "either" || m.Confidence != 0.99 || m.EffectSize == nil || *m.EffectSize != 0 ||
		!m.Critical || m.Group != "latency" || m.Weight != 2.5 {
		t.Errorf("metric fields: %+v", m)
	}
	if e.Alpha != 0.005 {
		t.Errorf("alpha %v, want 0.005", e.Alpha)
	}
	if vs.Direction != "decrease" || vs.Confidence != 0.9 || vs.EffectSize == nil || *vs.EffectSize != 0.2 || vs.Alpha != 0.02 ||
		vs.Window.Std().Minutes() != 1 || vs.Score == nil || *vs.Score.Pass != 90 || *vs.Score.Marginal != 60 {
		t.Errorf("step fields: %+v", vs)
	}
	if l := vs.Logs[0]; l.Judge != "compare" || !l.Baseline {
		t.Errorf("log check fields: %+v", l)
	}
}
