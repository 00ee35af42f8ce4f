package spec

import (
	"strings"
	"testing"
	"time"
)

// TestOnProviderErrorAndIntervalProblems checks that a verify step accepts
// exactly the onProviderError actions and refuses an interval longer than its
// duration, each at the field's position.
func TestOnProviderErrorAndIntervalProblems(t *testing.T) {
	metric := "                query: q\n                successCondition: result < 1\n"
	tests := []struct{ name, step, want string }{
		{"unknown action", "            onProviderError: ignore\n", `17:30: unknown onProviderError action "ignore"; use one of: pause, rollback, continue`},
		{"near miss", "            onProviderError: paused\n", `17:30: unknown onProviderError action "paused"; did you mean "pause"?`},
		{"interval longer than duration", "            duration: 10s\n            interval: 30s\n",
			`18:23: interval 30s is longer than the step's duration 10s; the duration bounds the step, so measure at most every 10s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, vmetric(metric, tt.step))
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Fatalf("got %q, want one problem %s", got, tt.want)
			}
		})
	}
}

// TestOnProviderErrorAndIntervalAccepted checks the values validation accepts
// and that they decode.
func TestOnProviderErrorAndIntervalAccepted(t *testing.T) {
	metric := "                query: q\n                successCondition: result < 1\n"
	for _, action := range append(ProviderErrorActions, "") {
		step := "            duration: 10s\n            interval: 10s\n"
		if action != "" {
			step += "            onProviderError: " + action + "\n"
		}
		docs, err := ParseDocuments("f.yaml", []byte(vmetric(metric, step)))
		if err != nil {
			t.Fatalf("%q: %v", action, err)
		}
		vs := docs[0].Workflow.Spec.Phases[0].Steps[1].Verify
		if vs.OnProviderError != action || vs.Interval.Std() != 10*time.Second {
			t.Errorf("%q: decoded %+v", action, vs)
		}
	}
}
