package main

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/internal/spec"
)

// TestDemoDocumentsAreValid checks the demo's documents in every build shape (with and
// without verify and loadtest), and the probe, with the same checks the server runs.
func TestDemoDocumentsAreValid(t *testing.T) {
	for _, verify := range []bool{false, true} {
		for _, loadtest := range []bool{false, true} {
			t.Run(fmt.Sprintf("verify=%v/loadtest=%v", verify, loadtest), func(t *testing.T) {
				d := demoSetup{exe: "/opt/it's here/sluice", listen: "127.0.0.1:18080", admin: "127.0.0.1:18081",
					verify: verify, loadtest: loadtest, checkURL: "http://127.0.0.1:18082/check"}
				checkDocuments(t, "demo.yaml", d.documents(), 3)
			})
		}
	}
	checkDocuments(t, "probe.yaml", probeDocuments, 2)
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
