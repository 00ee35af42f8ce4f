package sampleapp

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// registerFailFlags defines the flags that make a version start failing at a known
// moment: --fail-rate with --fail-from (an instant) or --fail-after (a delay).
func (c *Config) registerFailFlags(fs *flag.FlagSet) {
	fs.Float64Var(&c.FailRate, "fail-rate", c.FailRate, "share of requests to / answering 500 from --fail-from or --fail-after on (0..1)")
	fs.DurationVar(&c.FailAfter, "fail-after", c.FailAfter, "start --fail-rate this long after start-up")
	fs.Func("fail-from", "start --fail-rate at this instant: Unix milliseconds or an RFC 3339 time", func(s string) error {
		t, err := ParseInstant(s)
		if err != nil {
			return err
		}
		c.FailFrom = t
		return nil
	})
}

// ParseInstant reads an instant written as Unix milliseconds or in RFC 3339.
func ParseInstant(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expected Unix milliseconds or an RFC 3339 time, got %q", s)
	}
	return t, nil
}

// validateFail checks the failure settings.
func (c Config) validateFail() error {
	switch {
	case c.FailRate < 0 || c.FailRate > 1:
		return fmt.Errorf("sampleapp: fail-rate %v: must be between 0 and 1", c.FailRate)
	case c.FailAfter < 0:
		return fmt.Errorf("sampleapp: fail-after %s must not be negative", c.FailAfter)
	case c.FailRate > 0 && c.FailFrom.IsZero() && c.FailAfter == 0:
		return fmt.Errorf("sampleapp: fail-rate needs fail-from or fail-after")
	case !c.FailFrom.IsZero() && c.FailAfter > 0:
		return fmt.Errorf("sampleapp: give fail-from or fail-after, not both")
	}
	return nil
}

// failStart is when FailRate begins for a handler made at start; zero when never.
func (c Config) failStart(start time.Time) time.Time {
	switch {
	case c.FailRate <= 0:
		return time.Time{}
	case !c.FailFrom.IsZero():
		return c.FailFrom
	}
	return start.Add(c.FailAfter)
}

// errorRate is the share of requests that fail at now.
func (a *app) errorRate(now time.Time) float64 {
	if !a.failFrom.IsZero() && !now.Before(a.failFrom) {
		return a.cfg.FailRate
	}
	return a.cfg.ErrorRate
}
