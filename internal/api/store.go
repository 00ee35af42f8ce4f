package api

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// Store is what the API needs of the store, declared by its consumer: definitions
// (apply, history, delete), executions and their events to show, and services. It
// never changes an execution itself; that goes through Engine. Every store.Store is
// one, and the store's own documentation says what each method does.
type Store interface {
	PutDefinition(ctx context.Context, d store.Definition) (stored store.Definition, changed bool, err error)
	GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error)
	ListDefinitions(ctx context.Context, kind store.Kind) ([]store.Definition, error)
	DefinitionHistory(ctx context.Context, kind store.Kind, name string) ([]store.Definition, error)
	DeleteDefinition(ctx context.Context, kind store.Kind, name string, by string, at time.Time) error
	GetExecution(ctx context.Context, id string) (store.Execution, error)
	ListExecutions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error)
	Events(ctx context.Context, executionID string, after int64, limit int) ([]store.Event, error)
	GetService(ctx context.Context, environment, service string) (store.ServiceState, error)
	ListServices(ctx context.Context, environment string) ([]store.ServiceState, error)
}

// Every store.Store serves the API.
var _ Store = store.Store(nil)
