package api

import (
	"testing"
	"time"
)

// TestLimiterRefills checks the token bucket against a fake clock: a burst, a
// refusal with the wait until the next token, refilling at the rate up to the
// burst, and pruning of idle callers when there are too many.
func TestLimiterRefills(t *testing.T) {
	now := time.Unix(1700000000, 0)
	l := newLimiter(RateLimit{PerSecond: 2, Burst: 3}, func() time.Time { return now })
	steps := []struct {
		name    string
		advance time.Duration
		want    bool
		wait    time.Duration
	}{
		{"1 of the burst", 0, true, 0},
		{"2 of the burst", 0, true, 0},
		{"3 of the burst", 0, true, 0},
		{"empty", 0, false, 500 * time.Millisecond},
		{"still empty after 250ms", 250 * time.Millisecond, false, 250 * time.Millisecond},
		{"one token after 500ms", 250 * time.Millisecond, true, 0},
		{"long idle refills only to the burst", time.Hour, true, 0},
		{"second of the refilled burst", 0, true, 0},
		{"third of the refilled burst", 0, true, 0},
		{"and no more", 0, false, 500 * time.Millisecond},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			now = now.Add(s.advance)
			ok, wait := l.allow("tok")
			if ok != s.want || wait != s.wait {
				t.Fatalf("allow = %v, %s; want %v, %s", ok, wait, s.want, s.wait)
			}
		})
	}
	for i := range maxBuckets {
		l.allow(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	now = now.Add(time.Hour)
	l.allow("newcomer")
	if n := len(l.buckets); n > 2 {
		t.Fatalf("%d buckets after pruning idle callers, want at most 2", n)
	}
}
