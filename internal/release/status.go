package release

import (
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// Phases of a Release, as its status and printer column show them.
const (
	PhasePending     = "Pending"
	PhaseProgressing = "Progressing"
	PhaseWaiting     = "Waiting" // for an approval
	PhasePaused      = "Paused"
	PhaseSucceeded   = "Succeeded"
	PhaseRolledBack  = "RolledBack"
	PhaseFailed      = "Failed"
	PhaseAborted     = "Aborted"
)

// Status is a Release's status as sluice writes it.
type Status struct {
	Phase              string      `json:"phase,omitempty"`
	ExecutionID        string      `json:"executionID,omitempty"`
	ObservedGeneration int64       `json:"observedGeneration,omitempty"`
	Message            string      `json:"message,omitempty"`
	Environment        string      `json:"environment,omitempty"`
	Service            string      `json:"service,omitempty"`
	Weights            *Weights    `json:"weights,omitempty"`
	Verdicts           []Verdict   `json:"verdicts,omitempty"`
	Conditions         []Condition `json:"conditions,omitempty"`
}

// Weights is the share of traffic of each slot, as the router read it back.
type Weights struct {
	Blue  int `json:"blue"`
	Green int `json:"green"`
}

// Verdict is the latest verdict of one metric.
type Verdict struct {
	Metric  string `json:"metric"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	At      string `json:"at,omitempty"`
}

// Condition is a Kubernetes-style condition: Progressing, Ready (the release went
// live) and Healthy (no rollback, failure or abort).
type Condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"` // True, False or Unknown
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
}

// phaseOf maps an execution's status to a Release phase.
func phaseOf(s store.Status) string {
	switch s {
	case store.StatusSucceeded:
		return PhaseSucceeded
	case store.StatusRolledBack:
		return PhaseRolledBack
	case store.StatusFailed:
		return PhaseFailed
	case store.StatusAborted:
		return PhaseAborted
	case store.StatusWaiting:
		return PhaseWaiting
	case store.StatusPaused:
		return PhasePaused
	case store.StatusPending:
		return PhasePending
	}
	return PhaseProgressing
}

// terminal reports whether a phase is final.
func terminal(phase string) bool {
	switch phase {
	case PhaseSucceeded, PhaseRolledBack, PhaseFailed, PhaseAborted:
		return true
	}
	return false
}

// conditions derives the conditions of a phase, keeping the transition time of a
// condition whose status did not change.
func conditions(phase, message string, prev []Condition, now time.Time) []Condition {
	tri := func(b bool) string {
		if b {
			return "True"
		}
		return "False"
	}
	want := []Condition{
		{Type: "Progressing", Status: tri(!terminal(phase)), Reason: phase},
		{Type: "Ready", Status: tri(phase == PhaseSucceeded), Reason: phase},
		{Type: "Healthy", Status: tri(phase != PhaseRolledBack && phase != PhaseFailed && phase != PhaseAborted), Reason: phase},
	}
	for i := range want {
		if want[i].Status == "False" && want[i].Type == "Healthy" || want[i].Type == "Progressing" {
			want[i].Message = message
		}
		want[i].LastTransitionTime = now.UTC().Format(time.RFC3339)
		for _, p := range prev {
			if p.Type == want[i].Type && p.Status == want[i].Status {
				want[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return want
}

// weightsOf reads the confirmed weights from an execution's engine state.
func weightsOf(state json.RawMessage) *Weights {
	var st struct {
		Weights *Weights `json:"weights"`
	}
	if len(state) == 0 || json.Unmarshal(state, &st) != nil {
		return nil
	}
	return st.Weights
}
