package spec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration written as "30s", "5m" or "1h30m"; "0" is zero.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("expected a duration like 30s or 5m, got %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s must not be negative", s)
	}
	return Duration(d), nil
}

// String formats the duration as Go does, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as "30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration written as "30s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParsePercent reads a whole percentage 0..100 written as "10" or "10%".
func ParsePercent(s string) (Percent, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	n, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("expected a percentage like 10 or 10%%, got %q", s)
	}
	if n < 0 || n > 100 {
		return 0, fmt.Errorf("percentage %d is out of range 0-100", n)
	}
	return Percent(n), nil
}

// ParseQuantity reads an instance count ("3") or a percentage of the live slot ("100%").
func ParseQuantity(s string) (Quantity, error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "%") {
		p, err := ParsePercent(t)
		if err != nil {
			return Quantity{}, err
		}
		return Quantity{Value: int(p), Percent: true}, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return Quantity{}, fmt.Errorf("expected an instance count like 3 or a percentage like 100%%, got %q", s)
	}
	if n < 0 {
		return Quantity{}, errors.New("instance count must not be negative")
	}
	return Quantity{Value: n}, nil
}

// String formats the quantity as "3" or "100%".
func (q Quantity) String() string {
	if q.Percent {
		return strconv.Itoa(q.Value) + "%"
	}
	return strconv.Itoa(q.Value)
}

// MarshalText writes the quantity as "3" or "100%".
func (q Quantity) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText reads a quantity written as "3" or "100%".
func (q *Quantity) UnmarshalText(b []byte) error {
	v, err := ParseQuantity(string(b))
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// Of resolves the quantity against the live slot's instance count, rounding a
// percentage up so that a non-zero share never becomes zero instances.
func (q Quantity) Of(live int) int {
	if !q.Percent {
		return q.Value
	}
	return (live*q.Value + 99) / 100
}
