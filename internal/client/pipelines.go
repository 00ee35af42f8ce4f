package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/sluicehq/sluice/internal/api"
)

// KindPipeline is the definition kind of Pipeline documents.
const KindPipeline Kind = "pipeline"

// RunPipeline starts a run of a pipeline; version 0 runs the latest.
func (c *Client) RunPipeline(ctx context.Context, name string, version int64, vars map[string]string) (api.PipelineRun, error) {
	var out api.PipelineRun
	err := c.run(ctx, KindPipeline.path(name, "run"), version, vars, &out)
	return out, err
}

// PipelineRunFilter narrows PipelineRuns; zero fields match everything.
type PipelineRunFilter struct {
	Pipeline string
	Active   bool
	Limit    int
}

// PipelineRuns lists pipeline runs, newest first.
func (c *Client) PipelineRuns(ctx context.Context, f PipelineRunFilter) ([]api.PipelineRun, error) {
	q := filter("pipeline", f.Pipeline)
	setActiveLimit(q, f.Active, f.Limit)
	var out api.PipelineRunList
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/pipeline-runs", query: q}, &out)
	return out.Items, err
}

// GetPipelineRun returns one run with its stages and log.
func (c *Client) GetPipelineRun(ctx context.Context, id string) (api.PipelineRun, error) {
	var out api.PipelineRun
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/pipeline-runs/" + url.PathEscape(id)}, &out)
	return out, err
}

// ApprovePipeline approves the gate holding a stage of a run.
func (c *Client) ApprovePipeline(ctx context.Context, id, stage, comment string) error {
	return c.post(ctx, "/api/v1/pipeline-runs/"+url.PathEscape(id)+"/approve", api.PipelineDecisionRequest{Stage: stage, Comment: comment}, nil)
}

// RejectPipeline rejects the gate holding a stage of a run; the stage fails.
func (c *Client) RejectPipeline(ctx context.Context, id, stage, comment string) error {
	return c.post(ctx, "/api/v1/pipeline-runs/"+url.PathEscape(id)+"/reject", api.PipelineDecisionRequest{Stage: stage, Comment: comment}, nil)
}

// AbortPipeline stops a run: stages in flight roll back, the rest are skipped.
func (c *Client) AbortPipeline(ctx context.Context, id, reason string) error {
	return c.post(ctx, "/api/v1/pipeline-runs/"+url.PathEscape(id)+"/abort", api.ReasonRequest{Reason: reason}, nil)
}
