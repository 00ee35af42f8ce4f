package engine

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// Store is what the engine needs of the store, declared by its consumer: the
// definitions an execution runs, commits of its journal, events and state, its
// lease, the live service it changes, and people's requests. Every store.Store is
// one, and the store's own documentation says what each method does.
type Store interface {
	GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error)
	Commit(ctx context.Context, c *store.Commit) error
	GetExecution(ctx context.Context, id string) (store.Execution, error)
	Journal(ctx context.Context, executionID string) ([]store.JournalEntry, error)
	ClaimExecutions(ctx context.Context, r store.ClaimRequest) ([]store.Execution, error)
	RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error)
	GetService(ctx context.Context, environment, service string) (store.ServiceState, error)
	AddRequest(ctx context.Context, r *store.Request) error
	Requests(ctx context.Context, executionID string, after int64) ([]store.Request, error)
	PendingRequests(ctx context.Context, owner string) ([]store.Request, error)
	AnswerRequest(ctx context.Context, a store.RequestAnswer) (store.Request, error)
}

// Every store.Store serves the engine.
var _ Store = store.Store(nil)
