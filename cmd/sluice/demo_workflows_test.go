package main

import (
	"testing"

	"github.com/sluicehq/sluice/internal/spec"
)

// TestDemoDocumentsAreValid checks the demo's documents with the same checks the
// server runs.
func TestDemoDocumentsAreValid(t *testing.T) {
	d := demoSetup{exe: "/opt/it's here/sluice", listen: "127.0.0.1:18080", admin: "127.0.0.1:18081"}
	checkDocuments(t, "demo.yaml", d.documents(), 3)
}

func checkDocuments(t *testing.T, file, src string, n int) {
	t.Helper()
	docs, err := spec.ParseDocuments(file, []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	if len(docs) != n {
		t.Fatalf("%d documents, want %d", len(docs), n)
	}
	if ps := spec.CheckDocuments(docs); len(ps) > 0 {
		t.Fatalf("%v\n%s", ps, src)
	}
}

func TestShellQuoteAndVersion(t *testing.T) {
	if v := versionOf("sample-app:v2"); v != "v2" {
		t.Errorf("versionOf = %q", v)
	}
}
