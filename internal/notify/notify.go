package notify

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
)

// Notifier delivers one message; it is called again on an error that may pass.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Message is what a notification says about an execution.
type Message struct {
	Trigger         string    `json:"trigger"` // started, approval, verification_failed, rolled_back, succeeded
	ExecutionID     string    `json:"executionId"`
	Workflow        string    `json:"workflow"`
	WorkflowVersion int64     `json:"workflowVersion"`
	Environment     string    `json:"environment"`
	Service         string    `json:"service"`
	Status          string    `json:"status"`
	Reason          string    `json:"reason,omitempty"`
	Step            string    `json:"step,omitempty"` // the step concerned: the approval, the failed verification
	StartedBy       string    `json:"startedBy,omitempty"`
	At              time.Time `json:"at"`
	// URL is the execution in the web UI; ApproveURL and RejectURL open its approval
	// dialog (approval messages only). All are empty without notifications.baseURL.
	URL        string `json:"url,omitempty"`
	ApproveURL string `json:"approveUrl,omitempty"`
	RejectURL  string `json:"rejectUrl,omitempty"`
}

// Title is a one-line summary, e.g. "shop v3 in prod: waiting for approval".
func (m Message) Title() string {
	what := map[string]string{
		spec.TriggerStarted:            "started",
		spec.TriggerApproval:           "waiting for approval",
		spec.TriggerVerificationFailed: "verification failed",
		spec.TriggerRolledBack:         "rolled back",
		spec.TriggerSucceeded:          "succeeded",
	}[m.Trigger]
	if what == "" {
		what = m.Status
	}
	return fmt.Sprintf("%s v%d in %s: %s", m.Workflow, m.WorkflowVersion, m.Environment, what)
}

// Text is the message as plain lines: the title, the reason and the links.
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Title() + "\n")
	fmt.Fprintf(&b, "Execution %s of service %s, started by %s.\n", m.ExecutionID, m.Service, orDash(m.StartedBy))
	if m.Reason != "" {
		b.WriteString(m.Reason + "\n")
	}
	if m.URL != "" {
		b.WriteString("\nOpen: " + m.URL + "\n")
	}
	if m.ApproveURL != "" {
		b.WriteString("Approve: " + m.ApproveURL + "\nReject: " + m.RejectURL + "\n")
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// links sets the web UI links of m from the environment's baseURL.
func (m *Message) links(base string) {
	if base == "" {
		return
	}
	u := strings.TrimRight(base, "/") + "/executions/" + url.PathEscape(m.ExecutionID)
	m.URL = u
	if m.Trigger == spec.TriggerApproval {
		m.ApproveURL, m.RejectURL = u+"?action=approve", u+"?action=reject"
	}
}
