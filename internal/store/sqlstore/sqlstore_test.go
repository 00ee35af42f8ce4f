package sqlstore

import "testing"

func TestBind(t *testing.T) {
	for _, tc := range []struct {
		name     string
		numbered bool
		in, want string
	}{
		{"question marks stay", false, "SELECT a FROM t WHERE a = ? AND b = ?", "SELECT a FROM t WHERE a = ? AND b = ?"},
		{"numbered in order", true, "SELECT a FROM t WHERE a = ? AND b IN (?, ?)", "SELECT a FROM t WHERE a = $1 AND b IN ($2, $3)"},
		{"past nine", true, "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"},
		{"no placeholder", true, "SELECT 1", "SELECT 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Dialect{Numbered: tc.numbered}
			if got := d.Bind(tc.in); got != tc.want {
				t.Errorf("Bind(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
