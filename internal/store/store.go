package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Store is sluice's persistence. Every method is safe for concurrent use. Writes never
// read the clock or invent random IDs: callers pass times and IDs in; the store assigns
// only record versions and sequence numbers.
type Store interface {
	// PutDefinition stores src as the next version of (kind, name). When src equals the
	// latest version's source and it is not deleted, nothing is written and the latest
	// version is returned with changed=false.
	PutDefinition(ctx context.Context, d Definition) (stored Definition, changed bool, err error)
	// GetDefinition returns one version, or the latest when version is 0. A deleted
	// definition's latest version is ErrNotFound; explicit old versions stay readable.
	GetDefinition(ctx context.Context, kind Kind, name string, version int64) (Definition, error)
	// ListDefinitions returns the latest version of every non-deleted definition of a kind,
	// ordered by name.
	ListDefinitions(ctx context.Context, kind Kind) ([]Definition, error)
	// DefinitionHistory returns every version of one definition, oldest first.
	DefinitionHistory(ctx context.Context, kind Kind, name string) ([]Definition, error)
	// DeleteDefinition records a deletion as a new version (Deleted=true, Source kept
	// from the previous version) so history is never lost.
	DeleteDefinition(ctx context.Context, kind Kind, name string, by string, at time.Time) error

	// Commit applies one atomic change: an execution create or update (optimistic on
	// Version), journal entries, console events and a service state, all or nothing.
	// On success it fills in the assigned Version and sequence numbers in c.
	Commit(ctx context.Context, c *Commit) error
	// GetExecution returns one execution or ErrNotFound.
	GetExecution(ctx context.Context, id string) (Execution, error)
	// ListExecutions returns executions matching f, newest first.
	ListExecutions(ctx context.Context, f ExecutionFilter) ([]Execution, error)
	// Journal returns an execution's journal entries in order.
	Journal(ctx context.Context, executionID string) ([]JournalEntry, error)
	// Events returns up to limit events with Seq > after, in order (limit <= 0: all).
	Events(ctx context.Context, executionID string, after int64, limit int) ([]Event, error)

	// ClaimExecutions takes ownership of non-terminal executions that are unowned or
	// whose lease ended before r.Now (and, with r.Own, those r.Owner already owns): it
	// sets their owner and lease and bumps their version, so a previous owner's next
	// write fails with a conflict. It returns what it claimed, oldest first.
	ClaimExecutions(ctx context.Context, r ClaimRequest) ([]Execution, error)
	// RenewLeases extends to until the lease of each listed execution still owned by
	// owner and not terminal, without changing its version, and returns the IDs it
	// renewed: the others were taken over or ended.
	RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error)

	// GetService returns the state of one service in one environment, or ErrNotFound.
	GetService(ctx context.Context, environment, service string) (ServiceState, error)
	// ListServices returns the services of an environment (all environments when empty).
	ListServices(ctx context.Context, environment string) ([]ServiceState, error)

	// AddRequest stores a person's request to an execution that exists and is not
	// terminal, assigning r.Seq; ErrNotFound for an unknown execution, ErrFinished for
	// one that has ended.
	AddRequest(ctx context.Context, r *Request) error
	// Requests returns an execution's requests with Seq > after, oldest first.
	Requests(ctx context.Context, executionID string, after int64) ([]Request, error)
	// PendingRequests returns the unanswered requests of the non-terminal executions
	// owner drives, oldest first per execution.
	PendingRequests(ctx context.Context, owner string) ([]Request, error)
	// AnswerRequest records a request's outcome unless it was answered before, and
	// returns the request as stored (with the first answer); ErrNotFound when absent.
	AnswerRequest(ctx context.Context, a RequestAnswer) (Request, error)

	// Close releases the store's resources; pending commits finish first.
	Close() error
}

// Kind is the kind of a definition.
type Kind string

// Definition kinds.
const (
	KindWorkflow    Kind = "workflow"
	KindEnvironment Kind = "environment"
)

// Definition is one version of a workflow or environment document.
type Definition struct {
	Kind      Kind
	Name      string
	Version   int64 // assigned by the store: 1, 2, ...
	Source    string
	Deleted   bool
	CreatedAt time.Time
	CreatedBy string
}

// Status is the state of an execution, a phase or a step.
type Status string

// Statuses.
const (
	StatusPending     Status = "pending"
	StatusRunning     Status = "running"
	StatusWaiting     Status = "waiting" // for an approval
	StatusPaused      Status = "paused"
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusRollingBack Status = "rolling_back"
	StatusRolledBack  Status = "rolled_back"
	StatusAborted     Status = "aborted"
	StatusSkipped     Status = "skipped"
)

// Terminal reports whether an execution in this status will never change again.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusRolledBack, StatusAborted:
		return true
	}
	return false
}

// Execution is one run of a workflow version with concrete variable values.
type Execution struct {
	ID                 string
	Workflow           string
	WorkflowVersion    int64
	Environment        string
	EnvironmentVersion int64
	Service            string
	Variables          map[string]string
	StartedBy          string
	CreatedAt          time.Time
	UpdatedAt          time.Time

	Status Status
	Reason string // why it failed, paused or rolled back

	// State is the engine's own progress record (cursor, slots, steps), stored as JSON
	// and opaque to the store.
	State json.RawMessage

	// Version is the record version: 1 after create, +1 on every update. An update must
	// carry the version it read; the store returns a *ConflictError otherwise.
	Version int64

	// Owner is the server that drives the execution and LeaseUntil when its claim ends
	// unless renewed. Both are set on create and by ClaimExecutions and RenewLeases;
	// an update through Commit leaves them as they are.
	Owner      string
	LeaseUntil time.Time
}

// ClaimRequest says which executions a server takes over.
type ClaimRequest struct {
	Owner string
	Now   time.Time // leases that ended before Now are free
	Until time.Time // the new lease
	Own   bool      // also claim executions Owner already owns (after its own restart)
	Limit int       // <= 0: no limit
}

// ExecutionFilter narrows ListExecutions; zero fields match everything.
type ExecutionFilter struct {
	Workflow    string
	Environment string
	Service     string
	Status      Status
	StartedBy   string
	Active      bool // only non-terminal executions
	Limit       int  // <= 0: no limit
}

// JournalEntry is one durable record of the engine's progress.
type JournalEntry struct {
	Seq  int64  // assigned by the store, per execution, from 1
	Key  string // idempotency key: execution/step/attempt[/effect]
	Kind string // e.g. step.started, effect.intent, effect.done, step.finished
	Data json.RawMessage
	At   time.Time
}

// Event is one line or change of an execution's console stream.
type Event struct {
	ExecutionID string
	Seq         int64 // assigned by the store, per execution, from 1
	At          time.Time
	Type        string // console, status, step, weights, ...
	Step        string // step key such as "p2.s1"; empty for execution-level events
	Level       string // info, warn, error
	Message     string
	Data        json.RawMessage
}

// ServiceState records which slot of a service is live in an environment.
type ServiceState struct {
	Environment string
	Service     string
	LiveSlot    string // blue or green; empty before the first promotion
	Artifact    string
	Instances   int
	ExecutionID string // the execution that last changed it
	UpdatedAt   time.Time
}

// Commit is one atomic write. Journal and Events need an execution: Execution.ID when
// Execution is set, ExecutionID otherwise.
type Commit struct {
	// Execution is created (Create=true, Version must be 0) or updated (Version must equal
	// the stored version) when non-nil. On success its Version is the new version.
	Execution *Execution
	Create    bool
	// ExecutionID names the execution for journal entries and events when Execution is nil.
	ExecutionID string
	Journal     []JournalEntry
	Events      []Event
	Service     *ServiceState
}

// Errors.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrBusy     = errors.New("service busy")
	// ErrFinished says a request was sent to an execution that has already ended.
	ErrFinished = errors.New("execution has finished")
)

// ConflictError says an update carried a stale record version. It matches ErrConflict.
type ConflictError struct {
	ID       string
	Expected int64 // the version the writer carried
	Actual   int64 // the version stored
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("execution %s: version conflict: wrote version %d but store has %d", e.ID, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// BusyError says another active execution already drives the service. It matches ErrBusy.
type BusyError struct {
	Environment string
	Service     string
	Holder      string // the active execution's ID
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("service %s in environment %s is being driven by execution %s; wait for it to finish or abort it", e.Service, e.Environment, e.Holder)
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Check reports a Commit that no store can apply (an execution without an ID, a create
// with a version, journal entries or events that name no or another execution) and
// returns the ID of the execution the commit writes to, empty when it writes none.
func (c *Commit) Check() (string, error) {
	id := c.ExecutionID
	if e := c.Execution; e != nil {
		switch {
		case c.ExecutionID != "" && c.ExecutionID != e.ID:
			return "", fmt.Errorf("execution id %q differs from ExecutionID %q", e.ID, c.ExecutionID)
		case e.ID == "":
			return "", errors.New("execution without an id")
		case c.Create && e.Version != 0:
			return "", fmt.Errorf("create execution %s: version must be 0, got %d", e.ID, e.Version)
		}
		id = e.ID
	} else if c.Create {
		return "", errors.New("create without an execution")
	}
	if (len(c.Journal) > 0 || len(c.Events) > 0) && id == "" {
		return "", errors.New("journal entries or events without an execution id")
	}
	for i, ev := range c.Events {
		if ev.ExecutionID != "" && ev.ExecutionID != id {
			return "", fmt.Errorf("events[%d]: execution id %q differs from %q", i, ev.ExecutionID, id)
		}
	}
	return id, nil
}

// SortOldestFirst orders executions by creation time, then ID: the order
// ClaimExecutions returns them in.
func SortOldestFirst(es []Execution) {
	slices.SortFunc(es, func(a, b Execution) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
