package verify

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Threshold judges a result by a success and/or a failure condition written in
// expr-lang over `result` (and `baseline` when the metric has one).
type Threshold struct {
	success, failure       *vm.Program
	successSrc, failureSrc string
}

// exprEnv declares the variables a condition may use; their types are only known
// per measurement.
type exprEnv struct {
	Result   any `expr:"result"`
	Baseline any `expr:"baseline"`
}

// NewThreshold compiles the conditions; at least one must be set.
func NewThreshold(success, failure string) (*Threshold, error) {
	if success == "" && failure == "" {
		return nil, fmt.Errorf("threshold: needs successCondition or failureCondition")
	}
	t := &Threshold{successSrc: success, failureSrc: failure}
	var err error
	if success != "" {
		if t.success, err = compileCondition(success); err != nil {
			return nil, fmt.Errorf("successCondition %q: %w", success, err)
		}
	}
	if failure != "" {
		if t.failure, err = compileCondition(failure); err != nil {
			return nil, fmt.Errorf("failureCondition %q: %w", failure, err)
		}
	}
	return t, nil
}

func compileCondition(src string) (*vm.Program, error) {
	return expr.Compile(src, expr.Env(exprEnv{}), expr.AsBool())
}

// Judge returns the verdict of a result, and the condition that decided it. With
// both conditions, a true failure condition fails, a true success condition
// passes, and neither is inconclusive; with one, its truth decides.
func (t *Threshold) Judge(r Result, baseline *Result) (Verdict, string, error) {
	env := exprEnv{Result: ExprValue(r)}
	if baseline != nil {
		env.Baseline = ExprValue(*baseline)
	}
	if t.failure != nil {
		bad, err := runCondition(t.failure, env)
		if err != nil {
			return Error, t.failureSrc, fmt.Errorf("failureCondition %q: %w", t.failureSrc, err)
		}
		if bad {
			return Failed, t.failureSrc, nil
		}
		if t.success == nil {
			return Successful, "not (" + t.failureSrc + ")", nil
		}
	}
	good, err := runCondition(t.success, env)
	if err != nil {
		return Error, t.successSrc, fmt.Errorf("successCondition %q: %w", t.successSrc, err)
	}
	switch {
	case good:
		return Successful, t.successSrc, nil
	case t.failure != nil:
		return Inconclusive, "neither " + t.successSrc + " nor " + t.failureSrc, nil
	default:
		return Failed, "not (" + t.successSrc + ")", nil
	}
}

func runCondition(p *vm.Program, env exprEnv) (bool, error) {
	out, err := expr.Run(p, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition gave %T, not a bool", out)
	}
	return b, nil
}

// ExprValue is what a condition sees as `result`: the value as a number when the
// result has no named values, otherwise a map of the named values plus "value"
// (and "events"/"trials" of a tally).
func ExprValue(r Result) any {
	if len(r.Values) == 0 {
		return r.Value
	}
	m := make(map[string]any, len(r.Values)+3)
	for k, v := range r.Values {
		m[k] = v
	}
	if !math.IsNaN(r.Value) {
		m["value"] = r.Value
	}
	if r.Tally != nil {
		m["events"], m["trials"] = r.Tally.Events, r.Tally.Trials
	}
	return m
}
