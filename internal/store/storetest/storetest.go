package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// Open opens a fresh, empty store for one test.
type Open func(t *testing.T) store.Store

// Run runs the whole conformance suite against stores made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"DefinitionVersions", testDefinitionVersions},
		{"DefinitionUnchanged", testDefinitionUnchanged},
		{"DefinitionDelete", testDefinitionDelete},
		{"DefinitionList", testDefinitionList},
		{"DefinitionErrors", testDefinitionErrors},
		{"CreateAndGet", testCreateAndGet},
		{"UpdateVersions", testUpdateVersions},
		{"StaleUpdate", testStaleUpdate},
		{"CreateTwice", testCreateTwice},
		{"UpdateMissing", testUpdateMissing},
		{"Atomicity", testAtomicity},
		{"Seqs", testSeqs},
		{"EventsPaging", testEventsPaging},
		{"ServiceLock", testServiceLock},
		{"ListExecutions", testListExecutions},
		{"Services", testServices},
		{"TimesAndJSON", testTimesAndJSON},
		{"ConcurrentCommits", testConcurrentCommits},
		{"ConcurrentUpdatesOneWinner", testConcurrentUpdates},
		{"CloseFinishesPending", testCloseFinishesPending},
		{"ContextCancel", testContextCancel},
		{"LeaseClaim", testLeaseClaim},
		{"LeaseRenewAndOwn", testLeaseRenewAndOwn},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Requests", testRequests},
		{"Deliveries", testDeliveries},
		{"PipelineRuns", testPipelineRuns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// base is a fixed instant; tests never depend on the wall clock.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newExec(id, env, svc string, sec int) *store.Execution {
	return &store.Execution{
		ID: id, Workflow: "checkout", WorkflowVersion: 1, Environment: env, EnvironmentVersion: 2,
		Service: svc, Variables: map[string]string{"artifact": "shop:1.2." + id}, StartedBy: "ana",
		CreatedAt: at(sec), UpdatedAt: at(sec), Status: store.StatusRunning,
		State: json.RawMessage(`{"phase":0}`),
	}
}

func create(t *testing.T, s store.Store, e *store.Execution) {
	t.Helper()
	if err := s.Commit(ctxT(t), &store.Commit{Execution: e, Create: true}); err != nil {
		t.Fatalf("create %s: %v", e.ID, err)
	}
}

// update sets e's status and commits it, failing the test on error.
func update(t *testing.T, s store.Store, e *store.Execution, st store.Status) {
	t.Helper()
	e.Status = st
	if err := s.Commit(ctxT(t), &store.Commit{Execution: e}); err != nil {
		t.Fatalf("update %s to %s: %v", e.ID, st, err)
	}
}

// jsonEqual compares JSON by meaning (stores such as PostgreSQL jsonb reformat it).
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// sameExecution reports the first difference between two executions, or "".
func sameExecution(got, want store.Execution) string {
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		return fmt.Sprintf("times: got %v/%v, want %v/%v", got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	if !jsonEqual(got.State, want.State) {
		return fmt.Sprintf("state: got %s, want %s", got.State, want.State)
	}
	if len(got.Variables) != 0 || len(want.Variables) != 0 {
		if !reflect.DeepEqual(got.Variables, want.Variables) {
			return fmt.Sprintf("variables: got %v, want %v", got.Variables, want.Variables)
		}
	}
	got.CreatedAt, got.UpdatedAt, got.State, got.Variables = want.CreatedAt, want.UpdatedAt, want.State, want.Variables
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}
