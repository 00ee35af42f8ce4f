package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/sluicehq/sluice/internal/report"
)

// ReportMarkdown returns the release report of an execution as Markdown.
func (c *Client) ReportMarkdown(ctx context.Context, id string) (string, error) {
	r := request{method: http.MethodGet, path: executionPath(id, "report"), query: url.Values{"format": {"markdown"}}}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("client: GET %s: %w", r.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return "", decodeError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("client: GET %s: read answer: %w", r.path, err)
	}
	return string(b), nil
}

// Report returns the release report of an execution.
func (c *Client) Report(ctx context.Context, id string) (report.Report, error) {
	var out report.Report
	err := c.do(ctx, request{method: http.MethodGet, path: executionPath(id, "report")}, &out)
	return out, err
}
