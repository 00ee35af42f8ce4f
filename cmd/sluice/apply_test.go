package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

// TestApplyAllOrNothing: `sluice apply -f good -f bad` lists the problems of every
// file and stores nothing, not even the good file; a definition named in two files,
// or a file that cannot be read, stops it too; with every file right, all are stored.
func TestApplyAllOrNothing(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(readTestdata(t, "checkout.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte(strings.Replace(readTestdata(t, "checkout.yaml"), "name: staging", "name: staging-2", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		files   []string
		wantErr []string
	}{
		{"a bad file", []string{good, "testdata/mistakes.yaml"},
			[]string{"testdata/mistakes.yaml:7:3: unknown field \"colour\"", "testdata/mistakes.yaml:20:21: percentage 120"}},
		{"two bad files", []string{"testdata/mistakes.yaml", good, filepath.Join(dir, "copy-mistakes.yaml")},
			[]string{"testdata/mistakes.yaml:7:3", "copy-mistakes.yaml:7:3"}},
		{"a definition twice", []string{good, other}, []string{"other.yaml", "Workflow checkout is also defined at " + good}},
		{"a missing file", []string{good, filepath.Join(dir, "missing.yaml")}, []string{"nothing applied", "missing.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(strings.Join(tc.files, " "), "copy-mistakes") {
				if err := os.WriteFile(filepath.Join(dir, "copy-mistakes.yaml"), []byte(readTestdata(t, "mistakes.yaml")), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"apply"}
			for _, f := range tc.files {
				args = append(args, "-f", f)
			}
			code, out, errb := c.sluice("", args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errb)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(errb, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errb)
				}
			}
			for _, k := range []store.Kind{store.KindWorkflow, store.KindEnvironment} {
				if defs, err := c.store.ListDefinitions(context.Background(), k); err != nil || len(defs) != 0 {
					t.Fatalf("%s stored after a failed apply: %+v, %v", k, defs, err)
				}
			}
		})
	}
	code, out, errb := c.sluice("", "apply", "-f", good)
	if code != 0 || !strings.Contains(out, "Workflow checkout created") {
		t.Fatalf("good file alone: %d %s %s", code, out, errb)
	}
	if _, err := c.store.GetDefinition(context.Background(), store.KindEnvironment, "staging", 0); errors.Is(err, store.ErrNotFound) {
		t.Fatal("environment staging not stored")
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
