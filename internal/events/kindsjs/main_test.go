package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/sluicehq/sluice/internal/events"
)

// TestKindsJSUpToDate fails when internal/ui/static/js/kinds.js was not
// regenerated after a change to the event types.
func TestKindsJSUpToDate(t *testing.T) {
	got, err := os.ReadFile("../../ui/static/js/kinds.js")
	if err != nil {
		t.Fatal(err)
	}
	if want := render(events.Types); !bytes.Equal(got, want) {
		t.Fatalf("internal/ui/static/js/kinds.js is stale; run: go generate ./internal/events\nwant:\n%s", want)
	}
}

func TestConstName(t *testing.T) {
	for in, want := range map[events.Type]string{"loadtest": "LOADTEST", "record.x": "RECORD_X", "a-b": "A_B"} {
		if got := constName(in); got != want {
			t.Errorf("constName(%q) = %q, want %q", in, got, want)
		}
	}
}
