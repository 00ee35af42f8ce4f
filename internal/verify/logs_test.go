package verify

import (
	"fmt"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{`2026-11-25T12:00:01.123Z level=error msg="db timeout" after 3012ms user=42`, `<time> level=error msg=<str> after <num> user=<num>`},
		{`request 3f2c1a7e-9b1d-4c3e-8f00-123456789abc from 10.0.0.7:5123 failed`, `request <id> from <ip> failed`},
		{`panic: runtime error: index out of range [5] with length 3 at 0xc000123abc`, `panic: runtime error: index out of range [<num>] with length <num> at <hex>`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Mask(tt.in); got != tt.want {
				t.Fatalf("Mask(%q) = %q", tt.in, got)
			}
		})
	}
}

func TestCompareLogs(t *testing.T) {
	lines := func(n int, format string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf(format, i, i*7))
		}
		return out
	}
	normal := lines(200, "GET /item/%d 200 in %dms")
	baseline := append(lines(5, "level=error msg=\"cache miss\" key=%d took %dms"), normal...)
	tests := []struct {
		name   string
		canary []string
		want   Verdict
		found  string
	}{
		{"same as baseline", append(lines(1, "level=error msg=\"cache miss\" key=%d took %dms"), lines(40, "GET /item/%d 200 in %dms")...), Successful, ""},
		{"a new error", append(lines(4, "panic: nil map write in handler %d (goroutine %d)"), lines(40, "GET /item/%d 200 in %dms")...), Failed, "new"},
		{"a known error much more often", append(lines(10, "level=error msg=\"cache miss\" key=%d took %dms"), lines(40, "GET /item/%d 200 in %dms")...), Failed, "10× in canary vs 5×"},
		{"a rare new error is noise", append(lines(2, "level=error msg=\"odd\" n=%d %d"), lines(40, "GET /item/%d 200 in %dms")...), Successful, ""},
		{"new info lines are fine", lines(40, "started worker %d with %d slots"), Successful, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, fs := CompareLogs(tt.canary, baseline, LogParams{})
			if v != tt.want {
				t.Fatalf("%s, want %s: %v", v, tt.want, fs)
			}
			if tt.found != "" && (len(fs) == 0 || !strings.Contains(fs[0].String(), tt.found)) {
				t.Fatalf("findings %v do not say %q", fs, tt.found)
			}
		})
	}
}
