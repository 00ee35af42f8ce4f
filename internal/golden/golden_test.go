package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps failures instead of stopping the test.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, f) }
func (r *recorder) Fatalf(f string, a ...any) { r.errors = append(r.errors, f); r.fatal = true }
func (r *recorder) Fatal(a ...any)            { r.errors = append(r.errors, "fatal"); r.fatal = true }

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.golden")
	if err := os.WriteFile(path, []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		path      string
		got       string
		wantError string
	}{
		{"equal", path, "same\n", ""},
		{"differs", path, "other\n", "differs"},
		{"missing", filepath.Join(dir, "none.golden"), "x", "creates it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Check(r, tc.path, []byte(tc.got))
			if tc.wantError == "" && len(r.errors) > 0 {
				t.Fatalf("errors %q, want none", r.errors)
			}
			if tc.wantError != "" && (len(r.errors) != 1 || !strings.Contains(r.errors[0], tc.wantError)) {
				t.Fatalf("errors %q, want one saying %q", r.errors, tc.wantError)
			}
		})
	}
}

func TestUpdateWrites(t *testing.T) {
	*update = true
	defer func() { *update = false }()
	path := filepath.Join(t.TempDir(), "new", "out.golden")
	r := &recorder{TB: t}
	Check(r, path, []byte("fresh\n"))
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "fresh\n" || len(r.errors) > 0 {
		t.Fatalf("after -update: %q, %v, errors %q", b, err, r.errors)
	}
}
