package api

import (
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// Definition is one version of a workflow or environment document.
type Definition struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	Deleted   bool      `json:"deleted,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	Source    string    `json:"source,omitempty"`
}

// DefinitionList is a list of definitions.
type DefinitionList struct {
	Items []Definition `json:"items"`
}

// Apply actions say what applying a document did (or, in a dry run, would do).
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
)

// ApplyResult is the outcome for one applied document.
type ApplyResult struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Action  string `json:"action"`
	Version int64  `json:"version"` // the stored version; in a dry run the current one (0 if none)
	// Warnings are what the document may keep but should change (an old form
	// still accepted), each as "file:line:col: warning: ...".
	Warnings []string `json:"warnings,omitempty"`
}

// ApplyResponse answers POST /apply, one result per document in file order.
type ApplyResponse struct {
	DryRun  bool          `json:"dryRun,omitempty"`
	Results []ApplyResult `json:"results"`
}

// RunRequest is the body of POST /workflows/{name}/run. Variable values may be JSON
// strings, numbers or booleans; they are passed to the engine as strings.
type RunRequest struct {
	Version   int64                      `json:"version,omitempty"`
	Variables map[string]json.RawMessage `json:"variables,omitempty"`
}

// Execution is one run of a workflow.
type Execution struct {
	ID                 string            `json:"id"`
	Workflow           string            `json:"workflow"`
	WorkflowVersion    int64             `json:"workflowVersion"`
	Environment        string            `json:"environment"`
	EnvironmentVersion int64             `json:"environmentVersion"`
	Service            string            `json:"service"`
	Variables          map[string]string `json:"variables,omitempty"`
	StartedBy          string            `json:"startedBy"`
	CreatedAt          time.Time         `json:"createdAt"`
	UpdatedAt          time.Time         `json:"updatedAt"`
	Status             store.Status      `json:"status"`
	Reason             string            `json:"reason,omitempty"`
	Version            int64             `json:"version"`
	// Owner is the server driving the execution (its lease holder), if any.
	Owner string `json:"owner,omitempty"`
	// State is the engine's progress record, as the engine wrote it; only on GET of one.
	State json.RawMessage `json:"state,omitempty"`
	// Progress is where the execution stands; only in lists.
	Progress *Progress `json:"progress,omitempty"`
}

// ExecutionList is a list of executions, newest first.
type ExecutionList struct {
	Items []Execution `json:"items"`
}

// Event is one line or change of an execution's console.
type Event struct {
	ExecutionID string          `json:"executionId"`
	Seq         int64           `json:"seq"`
	At          time.Time       `json:"at"`
	Type        events.Type     `json:"type"` // one of events.Types; Data is its payload
	Step        string          `json:"step,omitempty"`
	Level       string          `json:"level,omitempty"`
	Message     string          `json:"message,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// EventPage is a page of console events; Next is the after= of the following page.
type EventPage struct {
	Items  []Event      `json:"items"`
	Next   int64        `json:"next"`
	Status store.Status `json:"status"` // the execution's status when the page was read
}

// StreamEnd is the data of the SSE `end` event sent once an execution is terminal.
type StreamEnd struct {
	Status store.Status `json:"status"`
	Reason string       `json:"reason,omitempty"`
	Last   int64        `json:"last"` // Seq of the last event of the stream
}

// DecisionRequest is the body of POST /executions/{id}/approve and /reject.
type DecisionRequest struct {
	Comment string `json:"comment,omitempty"`
}

// ReasonRequest is the body of POST /executions/{id}/rollback and /abort.
type ReasonRequest struct {
	Reason string `json:"reason,omitempty"`
}

// ActionResponse acknowledges an accepted execution action.
type ActionResponse struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	By     string `json:"by"`
}

// Service is the state of one service in one environment.
type Service struct {
	Environment string    `json:"environment"`
	Service     string    `json:"service"`
	LiveSlot    string    `json:"liveSlot,omitempty"`
	Artifact    string    `json:"artifact,omitempty"`
	Instances   int       `json:"instances"`
	ExecutionID string    `json:"executionId,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// Source says where LiveSlot, Artifact and Instances come from: "router" (read back
	// from the router and platform now) or "record" (the last execution's record,
	// when they cannot be read; ReadBackError says why).
	Source        string           `json:"source,omitempty"`
	ReadBackError string           `json:"readBackError,omitempty"`
	Weights       *traffic.Weights `json:"weights,omitempty"`
	// Ready is how many instances of the live slot are ready (read back only).
	Ready *int `json:"ready,omitempty"`
}

// ServiceList is a list of services.
type ServiceList struct {
	Items []Service `json:"items"`
}

// Health answers GET /healthz.
type Health struct {
	Status string `json:"status"`
}

// Problem is one thing wrong with a document, at a place in it.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong and where.
type ErrorDetail struct {
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Field    string    `json:"field,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

// Error codes.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalid          = "invalid"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeBusy             = "busy"
	CodeInvalidState     = "invalid_state"
	CodeRequestPending   = "request_pending" // 202: stored, carried out once a server drives the execution
	CodeForbidden        = "forbidden"
	CodeUnauthorized     = "unauthorized"
	CodeCSRF             = "csrf"
	CodeTooLarge         = "too_large"
	CodeInternal         = "internal"
	CodeUnavailable      = "unavailable"
)

func definitionOf(d store.Definition, withSource bool) Definition {
	out := Definition{Kind: string(d.Kind), Name: d.Name, Version: d.Version, Deleted: d.Deleted,
		CreatedAt: d.CreatedAt, CreatedBy: d.CreatedBy}
	if withSource {
		out.Source = d.Source
	}
	return out
}

func executionOf(e store.Execution, withState bool) Execution {
	out := Execution{ID: e.ID, Workflow: e.Workflow, WorkflowVersion: e.WorkflowVersion,
		Environment: e.Environment, EnvironmentVersion: e.EnvironmentVersion, Service: e.Service,
		Variables: e.Variables, StartedBy: e.StartedBy, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		Status: e.Status, Reason: e.Reason, Version: e.Version, Owner: e.Owner}
	if withState && len(e.State) > 0 && json.Valid(e.State) {
		out.State = e.State
	}
	return out
}

func eventOf(e store.Event) Event {
	out := Event{ExecutionID: e.ExecutionID, Seq: e.Seq, At: e.At, Type: events.Type(e.Type), Step: e.Step,
		Level: e.Level, Message: e.Message}
	if len(e.Data) > 0 && json.Valid(e.Data) {
		out.Data = e.Data
	}
	return out
}

func serviceOf(s store.ServiceState) Service {
	return Service{Environment: s.Environment, Service: s.Service, LiveSlot: s.LiveSlot,
		Artifact: s.Artifact, Instances: s.Instances, ExecutionID: s.ExecutionID, UpdatedAt: s.UpdatedAt}
}
