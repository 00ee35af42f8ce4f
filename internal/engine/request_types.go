package engine

import "errors"

// StartRequest asks the engine to start one execution of a workflow version.
type StartRequest struct {
	Workflow  string            // workflow name
	Version   int64             // workflow version; 0 means the latest
	Variables map[string]string // values for the template's variables
	StartedBy string            // who asked
	// Cause says why the run was started when that is not plain (an undo, a
	// trigger); the first console line shows it.
	Cause string
}

// Decision is a person's answer to the approval an execution is waiting for.
type Decision struct {
	Approve bool     // true approves, false rejects
	By      string   // who decided
	Groups  []string // the groups the decider belongs to
	Comment string   // why
}

// ErrInvalidState says the execution is not in a state that allows the request,
// such as approving an execution that is not waiting for an approval.
var ErrInvalidState = errors.New("invalid state")

// ErrForbidden says the caller may not make the request, such as an approval by a
// person who is not among the step's approvers.
var ErrForbidden = errors.New("forbidden")
