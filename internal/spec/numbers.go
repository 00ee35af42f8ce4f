package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Ratio is a fraction written as a decimal (0.95) or a percentage ("95%"); verify
// steps use it for confidence levels, effect sizes and alpha.
type Ratio float64

// ParseRatio reads a ratio written as "0.95" or "95%".
func ParseRatio(s string) (Ratio, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if p, ok := strings.CutSuffix(t, "%"); ok {
		t, scale = strings.TrimSpace(p), 100
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("expected a number like 0.95 or a percentage like 95%%, got %q", s)
	}
	return Ratio(f / scale), nil
}

func (r *Ratio) setScalar(s string) error {
	v, err := ParseRatio(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Number is a decimal number such as a weight or a score threshold.
type Number float64

// ParseNumber reads a finite decimal number.
func ParseNumber(s string) (Number, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("expected a number like 2 or 0.5, got %q", s)
	}
	return Number(f), nil
}

func (n *Number) setScalar(s string) error {
	v, err := ParseNumber(s)
	if err != nil {
		return err
	}
	*n = v
	return nil
}
