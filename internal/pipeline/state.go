package pipeline

import (
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// Stage statuses. A stage is pending until its stages before have succeeded, gated
// while its gates hold it, then starting (intent written), running, and finally
// succeeded, failed, skipped (never started because the run failed or was aborted)
// or undone (rollback-all put its previous release back).
const (
	StagePending    = "pending"
	StageGated      = "gated"
	StageStarting   = "starting"
	StageRunning    = "running"
	StageSucceeded  = "succeeded"
	StageFailed     = "failed"
	StageSkipped    = "skipped"
	StageUndoing    = "undoing"
	StageUndone     = "undone"
	StageUndoFailed = "undo_failed"
)

// State is a run's progress, stored as the run's State.
type State struct {
	// Groups are the groups of the person who started the run: every stage is
	// authorised as that person.
	Groups []string     `json:"groups,omitempty"`
	Stages []StageState `json:"stages"`
	// Abort is a person's request to stop the run; Failed is set once a stage failed
	// and the run is winding down per onFailure.
	Abort  *Request `json:"abort,omitempty"`
	Failed string   `json:"failed,omitempty"` // the stage that failed first
	Log    []Line   `json:"log"`
}

// StageState is one stage's progress.
type StageState struct {
	Name        string   `json:"name"`
	Workflow    string   `json:"workflow"`
	Environment string   `json:"environment"`
	Status      string   `json:"status"`
	Needs       []string `json:"needs,omitempty"`
	// Gate is the index of the gate holding the stage; GateSince when it began
	// holding it (a soak's start, an approval's timeout base).
	Gate      int        `json:"gate"`
	Gates     []GateInfo `json:"gates,omitempty"`
	GateSince time.Time  `json:"gateSince,omitzero"`
	Decisions []Decision `json:"decisions,omitempty"`
	// Records are the measurements of the stage's verification gates.
	Records []Record `json:"records,omitempty"`

	StartAt time.Time `json:"startAt,omitzero"` // when starting was written
	// WorkflowVersion is the version of the workflow the stage was checked against
	// and runs.
	WorkflowVersion int64             `json:"workflowVersion,omitempty"`
	Execution       string            `json:"execution,omitempty"`
	ExecStatus      store.Status      `json:"executionStatus,omitempty"`
	Service         string            `json:"service,omitempty"`
	Variables       map[string]string `json:"variables,omitempty"` // what the stage ran with
	FinishedAt      time.Time         `json:"finishedAt,omitzero"`
	Reason          string            `json:"reason,omitempty"`
	UndoAt          time.Time         `json:"undoAt,omitzero"`
	UndoExecution   string            `json:"undoExecution,omitempty"`
	// RollbackAsked is set once a stage in flight was asked to roll back because the
	// run failed or was aborted.
	RollbackAsked bool `json:"rollbackAsked,omitempty"`
}

// GateInfo describes one gate of a stage for readers (UI, CLI).
type GateInfo struct {
	Kind      string   `json:"kind"` // approval or soak
	Approvers []string `json:"approvers,omitempty"`
	Required  int      `json:"required,omitempty"`
	Soak      string   `json:"soak,omitempty"`
	Message   string   `json:"message,omitempty"`
	Passed    bool     `json:"passed"`
}

// Decision is one person's decision on a stage's approval gate.
type Decision struct {
	Gate    int       `json:"gate"`
	Approve bool      `json:"approve"`
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Request is a person's request to a run.
type Request struct {
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Line is one line of a run's log; each is also one event of the run's event
// stream (Event).
type Line struct {
	At      time.Time   `json:"at"`
	Kind    events.Type `json:"kind"` // one of the events.TypePipeline... types
	Level   string      `json:"level"`
	Stage   string      `json:"stage,omitempty"`
	Message string      `json:"message"`
	// Data is the payload its kind names in package events (events.StatusData,
	// events.DecisionData); empty for the others.
	Data json.RawMessage `json:"data,omitempty"`
}

// started logs a run's first line: which pipeline, and who started it.
func (s *State) started(at time.Time, def store.Definition, who string) {
	s.log(at, events.TypePipelineStarted, "info", "", "run of pipeline %s v%d started by %s", def.Name, def.Version, orAnonymous(who))
}

// stage returns the state of the named stage, or nil.
func (s *State) stage(name string) *StageState {
	for i := range s.Stages {
		if s.Stages[i].Name == name {
			return &s.Stages[i]
		}
	}
	return nil
}
