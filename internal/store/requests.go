package store

import (
	"encoding/json"
	"time"
)

// Request is a person's request to a running execution (approve, reject, rollback,
// abort, pause, resume, retry). It is stored before it is delivered, so any server can
// accept it and the server that drives the execution carries it out, also after a
// takeover. Whether it was carried out is decided by the execution's own state (the
// engine records the last request sequence it consumed in the same write as the
// request's effect); Answered, Refusal and Outcome only tell the person who asked.
type Request struct {
	ExecutionID string
	Seq         int64  // assigned by the store, per execution, from 1
	Kind        string // approve, reject, rollback, abort, pause, resume, retry
	By          string
	Reason      string
	Data        json.RawMessage // kind-specific details, such as an approval's decision
	At          time.Time

	Answered   bool
	Refusal    string // why the execution could not do what was asked: RefusedInvalid, RefusedForbidden; empty when it did
	Outcome    string // what happened, in words
	AnsweredAt time.Time
}

// RequestAnswer is the outcome of one request, recorded once.
type RequestAnswer struct {
	ExecutionID string
	Seq         int64
	Refusal     string
	Outcome     string
	At          time.Time
}

// Refusals of a request.
const (
	RefusedInvalid   = "invalid_state" // the execution's status does not allow it
	RefusedForbidden = "forbidden"     // the person may not, such as an approver not listed
)
