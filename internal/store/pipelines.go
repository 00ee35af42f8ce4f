package store

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"
)

// KindPipeline is the definition kind of Pipeline documents.
const KindPipeline Kind = "pipeline"

// PipelineRun is one run of a pipeline version: the record that links its stage
// executions. Like an Execution it is leased by the server that drives it and updated
// optimistically on Version; State is the pipeline runner's own progress (stages,
// gates, decisions), opaque to the store.
type PipelineRun struct {
	ID              string
	Pipeline        string
	PipelineVersion int64
	Variables       map[string]string
	StartedBy       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Status          Status
	Reason          string
	State           json.RawMessage

	// Version is 1 after create and +1 on every update and claim; an update must carry
	// the version it read (a *ConflictError otherwise).
	Version int64
	// Owner and LeaseUntil are set on create and by claims and renewals; an update
	// leaves them as they are.
	Owner      string
	LeaseUntil time.Time
}

// PipelineRunFilter narrows ListPipelineRuns; zero fields match everything.
type PipelineRunFilter struct {
	Pipeline string
	Active   bool // only non-terminal runs
	Limit    int  // <= 0: no limit
}

// PipelineRuns is what the sqlite and postgres stores offer for pipeline runs
// (migration 7), beside Store.
type PipelineRuns interface {
	// CreatePipelineRun stores a new run (Version must be 0) and sets Version to 1.
	CreatePipelineRun(ctx context.Context, r *PipelineRun) error
	// UpdatePipelineRun writes r if its Version is the stored one, and bumps r.Version;
	// a *ConflictError otherwise, ErrNotFound for an unknown run.
	UpdatePipelineRun(ctx context.Context, r *PipelineRun) error
	// GetPipelineRun returns one run or ErrNotFound.
	GetPipelineRun(ctx context.Context, id string) (PipelineRun, error)
	// ListPipelineRuns returns the runs matching f, newest first.
	ListPipelineRuns(ctx context.Context, f PipelineRunFilter) ([]PipelineRun, error)
	// ClaimPipelineRuns takes over non-terminal runs as ClaimExecutions does for
	// executions, bumping their versions.
	ClaimPipelineRuns(ctx context.Context, r ClaimRequest) ([]PipelineRun, error)
	// RenewPipelineLeases extends the leases owner still holds on non-terminal runs and
	// returns the IDs it renewed.
	RenewPipelineLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error)
}

// SortPipelineRunsOldestFirst orders runs by creation time, then ID.
func SortPipelineRunsOldestFirst(rs []PipelineRun) {
	slices.SortFunc(rs, func(a, b PipelineRun) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
