package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Entry is one recorded action.
type Entry struct {
	Seq         int64     `json:"seq"` // assigned by the store, increasing
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"`            // the user who acted
	Method      string    `json:"method,omitempty"` // how they authenticated: token, session, header
	TokenID     string    `json:"tokenId,omitempty"`
	Remote      string    `json:"remote"` // the client's address
	Action      string    `json:"action"` // apply, run, approve, token.create, ...
	Target      string    `json:"target"` // what it acted on: workflow/web, execution/e-1, ...
	Environment string    `json:"environment,omitempty"`
	Outcome     string    `json:"outcome"` // OutcomeOK, OutcomeDenied or OutcomeFailed
	Status      int       `json:"status"`  // the HTTP status answered
	Summary     string    `json:"summary"` // what changed, never a secret
	// Count is how many requests the entry stands for: 1 for an action, more for the
	// rejected anonymous or rate-limited requests of one source in one minute.
	Count int64 `json:"count"`
}

// Outcomes of an action.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied" // unauthenticated or forbidden
	OutcomeFailed = "failed"
)

// Filter narrows List; zero fields match everything.
type Filter struct {
	After  int64 // only entries with Seq > After
	Before int64 // only entries with Seq < Before; 0: no bound
	// Newest lists the newest entries first (descending Seq); the next page of such
	// a listing is the one Before the last entry's Seq.
	Newest      bool
	Since       time.Time
	Until       time.Time // exclusive
	Actor       string
	Action      string
	Environment string
	Outcome     string
	Limit       int // <= 0: no limit
}

// Page sizes of a listing: DefaultPage when none is asked for, never more than MaxPage.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// Store keeps the audit log. Implementations: internal/store/sqlite and
// internal/store/postgres, whose triggers refuse UPDATE on the table and DELETE of any
// entry that an export has not recorded (see PruneAudit).
type Store interface {
	// AppendAudit bounds e (see Bound), inserts it and sets its Seq; a zero Count is 1.
	AppendAudit(ctx context.Context, e *Entry) error
	// ListAudit returns the entries matching f in Seq order (descending with Newest).
	ListAudit(ctx context.Context, f Filter) ([]Entry, error)
	// PruneAudit records, in one transaction, that the entries with Seq <= through were
	// exported to dest, and removes them; it returns how many it removed. It is the only
	// delete the store's triggers allow.
	PruneAudit(ctx context.Context, through int64, dest string) (int64, error)
}

// WriteJSONL writes entries as JSON lines, one entry per line.
func WriteJSONL(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w)
	for i := range entries {
		if err := enc.Encode(&entries[i]); err != nil {
			return fmt.Errorf("audit: write entry %d: %w", entries[i].Seq, err)
		}
	}
	return nil
}
