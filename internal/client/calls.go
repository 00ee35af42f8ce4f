package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluicehq/sluice/internal/api"
)

// Kind is a kind of definition: KindWorkflow or KindEnvironment.
type Kind string

// Definition kinds.
const (
	KindWorkflow    Kind = "workflow"
	KindEnvironment Kind = "environment"
)

func (k Kind) path(parts ...string) string {
	p := "/api/v1/" + string(k) + "s"
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// Health checks that the server answers.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/healthz"}, &out)
	return out, err
}

// Apply sends a YAML file of one or more documents; file names it in problems.
func (c *Client) Apply(ctx context.Context, file string, src []byte, dryRun bool) (api.ApplyResponse, error) {
	q := url.Values{}
	if file != "" {
		q.Set("file", file)
	}
	if dryRun {
		q.Set("dryRun", "true")
	}
	var out api.ApplyResponse
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/apply", query: q,
		body: bytes.NewReader(src), contentType: "application/yaml"}, &out)
	return out, err
}

// ApplyFiles stores the documents of several files all or nothing: when any document
// of any file is invalid or not allowed, the error (an *APIError) lists the problems
// of every file and nothing is stored.
func (c *Client) ApplyFiles(ctx context.Context, files []api.ApplyFile, dryRun bool) (api.ApplyResponse, error) {
	q := url.Values{}
	if dryRun {
		q.Set("dryRun", "true")
	}
	body, err := json.Marshal(api.ApplyFilesRequest{Files: files})
	if err != nil {
		return api.ApplyResponse{}, fmt.Errorf("client: apply: %w", err)
	}
	var out api.ApplyResponse
	err = c.do(ctx, request{method: http.MethodPost, path: "/api/v1/apply", query: q,
		body: bytes.NewReader(body), contentType: "application/json"}, &out)
	return out, err
}

// List returns the latest version of every definition of a kind.
func (c *Client) List(ctx context.Context, k Kind) ([]api.Definition, error) {
	var out api.DefinitionList
	err := c.do(ctx, request{method: http.MethodGet, path: k.path()}, &out)
	return out.Items, err
}

// Get returns one definition at a version, or the latest when version is 0.
func (c *Client) Get(ctx context.Context, k Kind, name string, version int64) (api.Definition, error) {
	p := k.path(name)
	if version > 0 {
		p = k.path(name, "versions", strconv.FormatInt(version, 10))
	}
	var out api.Definition
	err := c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return out, err
}

// History returns every version of a definition, oldest first.
func (c *Client) History(ctx context.Context, k Kind, name string) ([]api.Definition, error) {
	var out api.DefinitionList
	err := c.do(ctx, request{method: http.MethodGet, path: k.path(name, "versions")}, &out)
	return out.Items, err
}

// Delete deletes a definition; its history stays.
func (c *Client) Delete(ctx context.Context, k Kind, name string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: k.path(name)}, nil)
}

// Run starts an execution of a workflow; version 0 runs the latest.
func (c *Client) Run(ctx context.Context, workflow string, version int64, vars map[string]string) (api.Execution, error) {
	var out api.Execution
	err := c.run(ctx, KindWorkflow.path(workflow, "run"), version, vars, &out)
	return out, err
}

// run posts a RunRequest (of a workflow or a pipeline) with vars as JSON strings.
func (c *Client) run(ctx context.Context, path string, version int64, vars map[string]string, out any) error {
	req := api.RunRequest{Version: version, Variables: make(map[string]json.RawMessage, len(vars))}
	for k, v := range vars {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("client: variable %s: %w", k, err)
		}
		req.Variables[k] = b
	}
	return c.post(ctx, path, req, out)
}

// ExecutionFilter narrows ListExecutions; zero fields match everything.
type ExecutionFilter struct {
	Workflow, Environment, Service, Status, StartedBy string
	Active                                            bool
	Limit                                             int
}

// ListExecutions returns executions, newest first.
func (c *Client) ListExecutions(ctx context.Context, f ExecutionFilter) ([]api.Execution, error) {
	q := url.Values{}
	for k, v := range map[string]string{"workflow": f.Workflow, "environment": f.Environment,
		"service": f.Service, "status": f.Status, "startedBy": f.StartedBy} {
		if v != "" {
			q.Set(k, v)
		}
	}
	setActiveLimit(q, f.Active, f.Limit)
	var out api.ExecutionList
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/executions", query: q}, &out)
	return out.Items, err
}

// setActiveLimit adds to q the filters every list of runs takes: only those still
// running, and at most limit of them (0: all).
func setActiveLimit(q url.Values, active bool, limit int) {
	if active {
		q.Set("active", "true")
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
}

// filter is the query of a list narrowed by at most one value: none when value is
// empty.
func filter(key, value string) url.Values {
	q := url.Values{}
	if value != "" {
		q.Set(key, value)
	}
	return q
}

func executionPath(id string, parts ...string) string {
	p := "/api/v1/executions/" + url.PathEscape(id)
	for _, s := range parts {
		p += "/" + s
	}
	return p
}

// GetExecution returns one execution with the engine's state.
func (c *Client) GetExecution(ctx context.Context, id string) (api.Execution, error) {
	var out api.Execution
	err := c.do(ctx, request{method: http.MethodGet, path: executionPath(id)}, &out)
	return out, err
}

// Events returns up to limit console events after Seq after (limit <= 0: the server's
// default page).
func (c *Client) Events(ctx context.Context, id string, after int64, limit int) (api.EventPage, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.EventPage
	err := c.do(ctx, request{method: http.MethodGet, path: executionPath(id, "events"), query: q}, &out)
	return out, err
}

// Approve approves the approval an execution waits for.
func (c *Client) Approve(ctx context.Context, id, comment string) error {
	return c.post(ctx, executionPath(id, "approve"), api.DecisionRequest{Comment: comment}, nil)
}

// Reject rejects the approval an execution waits for.
func (c *Client) Reject(ctx context.Context, id, comment string) error {
	return c.post(ctx, executionPath(id, "reject"), api.DecisionRequest{Comment: comment}, nil)
}

// Rollback restores all traffic to the live slot and ends the execution.
func (c *Client) Rollback(ctx context.Context, id, reason string) error {
	return c.post(ctx, executionPath(id, "rollback"), api.ReasonRequest{Reason: reason}, nil)
}

// Abort stops an execution where it is.
func (c *Client) Abort(ctx context.Context, id, reason string) error {
	return c.post(ctx, executionPath(id, "abort"), api.ReasonRequest{Reason: reason}, nil)
}

// Pause stops an execution before its next step.
func (c *Client) Pause(ctx context.Context, id string) error {
	return c.post(ctx, executionPath(id, "pause"), struct{}{}, nil)
}

// Resume continues a paused execution.
func (c *Client) Resume(ctx context.Context, id string) error {
	return c.post(ctx, executionPath(id, "resume"), struct{}{}, nil)
}

// Retry runs an execution's failed step again.
func (c *Client) Retry(ctx context.Context, id string) error {
	return c.post(ctx, executionPath(id, "retry"), struct{}{}, nil)
}

// Services returns the services of an environment (all when empty).
func (c *Client) Services(ctx context.Context, environment string) ([]api.Service, error) {
	var out api.ServiceList
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/services", query: filter("environment", environment)}, &out)
	return out.Items, err
}

// Undo puts the previous release of a service back: at once while its slot is warm,
// otherwise by running that release again.
func (c *Client) Undo(ctx context.Context, environment, service, reason string) (api.UndoResponse, error) {
	var out api.UndoResponse
	err := c.post(ctx, "/api/v1/services/"+url.PathEscape(environment)+"/"+url.PathEscape(service)+"/undo",
		api.UndoRequest{Reason: reason}, &out)
	return out, err
}
