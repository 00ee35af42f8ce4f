package verify

import (
	"math"
	"strings"
	"testing"
)

// maxConditionLen bounds a fuzzed condition; a workflow's conditions are short, and
// longer ones only make the fuzzer slower at finding the same shapes.
const maxConditionLen = 256

// FuzzThreshold compiles arbitrary success and failure conditions and judges
// arbitrary results with them: compiling gives a threshold or an error naming the
// condition, and judging gives one of the four verdicts, an error exactly when
// the verdict is Error, and the same verdict every time; nothing panics.
func FuzzThreshold(f *testing.F) {
	seeds := []struct {
		success, failure string
		value, base      float64
		named            bool
	}{
		{"result < 0.01", "", 0.005, 0, false},
		{"", "result >= 0.05", 0.06, 0, false},
		{"result < 0.01", "result > 0.05", 0.03, 0, false},
		{"result.p99 < 250", "", 0, 0, true},
		{"result.p95 < 250", "", 0, 0, true},
		{"result <= baseline * 1.2", "", 1.1, 1, false},
		{"result < 0.01", "", math.NaN(), 0, false},
		{"result <", "", 0, 0, false},
		{"reslt < 1", "", 0, 0, false},
		{"result =", "", 0, 0, false},
		{"result.value > 0 && result.events < result.trials", "", 1, 0, true},
		{`len(string(result)) > 3`, "result in [1, 2, 3]", 2, 0, false},
		{"1 / result > 0", "", 0, 0, false},
		{"all(1..10, # < result)", "", 11, 0, false},
	}
	for _, s := range seeds {
		f.Add(s.success, s.failure, s.value, s.base, s.named)
	}
	f.Fuzz(func(t *testing.T, success, failure string, value, base float64, named bool) {
		if len(success)+len(failure) > maxConditionLen {
			return
		}
		th, err := NewThreshold(success, failure)
		if err != nil {
			if !strings.Contains(err.Error(), "Condition") {
				t.Fatalf("compile error %q names no condition", err)
			}
			return
		}
		r := Number(value)
		if named {
			r = Result{Value: value, Values: map[string]float64{"p50": value / 2, "p99": value}, Tally: &Tally{Events: 1, Trials: 10}}
		}
		baseline := &Result{Value: base}
		v1, why1, err1 := th.Judge(r, baseline)
		v2, why2, err2 := th.Judge(r, baseline)
		switch {
		case v1 != Successful && v1 != Failed && v1 != Inconclusive && v1 != Error:
			t.Fatalf("verdict %d is none of the four", v1)
		case (err1 != nil) != (v1 == Error):
			t.Fatalf("verdict %s with error %v: an error goes with Error and only with it", v1, err1)
		case v1 != v2 || why1 != why2 || (err2 != nil) != (err1 != nil):
			t.Fatalf("judging twice gave %s (%s, %v) then %s (%s, %v)", v1, why1, err1, v2, why2, err2)
		case why1 == "":
			t.Fatalf("verdict %s without the condition that decided it", v1)
		}
	})
}
