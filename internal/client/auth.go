package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
)

// WhoAmI returns the caller's identity and grants as the server sees them.
func (c *Client) WhoAmI(ctx context.Context) (api.WhoAmI, error) {
	var out api.WhoAmI
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/whoami"}, &out)
	return out, err
}

// CreateToken makes an API token; the answer holds its secret, shown only this once.
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (api.TokenCreated, error) {
	var out api.TokenCreated
	err := c.post(ctx, "/api/v1/tokens", req, &out)
	return out, err
}

// Tokens lists API tokens (kind "session": web sessions): all of them for an admin of
// "*", the caller's own otherwise.
func (c *Client) Tokens(ctx context.Context, kind string) ([]api.Token, error) {
	var out api.TokenList
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/tokens", query: filter("kind", kind)}, &out)
	return out.Items, err
}

// RevokeToken revokes a token by id, and the web sessions made from it.
func (c *Client) RevokeToken(ctx context.Context, id string) (api.Token, error) {
	var out api.Token
	err := c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/tokens/" + url.PathEscape(id)}, &out)
	return out, err
}

// Grant gives a subject a role in an environment ("*" for all).
func (c *Client) Grant(ctx context.Context, g api.Grant) (api.GrantResponse, error) {
	var out api.GrantResponse
	err := c.post(ctx, "/api/v1/roles", g, &out)
	return out, err
}

// RevokeGrant removes a grant.
func (c *Client) RevokeGrant(ctx context.Context, g api.Grant) error {
	q := url.Values{"subject": {g.Subject}, "role": {g.Role}, "environment": {g.Environment}}
	return c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/roles", query: q}, nil)
}

// Grants lists the grants of the environments the caller administers, narrowed to
// those that apply in environment when it is set.
func (c *Client) Grants(ctx context.Context, environment string) ([]api.Grant, error) {
	var out api.GrantList
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/roles", query: filter("environment", environment)}, &out)
	return out.Items, err
}

// auditQuery encodes an audit filter.
func auditQuery(f audit.Filter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "environment": f.Environment, "outcome": f.Outcome} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// AuditPage returns one page of the audit entries matching f: f.Limit entries (the
// server's default page when 0, at most audit.MaxPage) after f.After, and in Next the
// cursor of the following page, empty at the end.
func (c *Client) AuditPage(ctx context.Context, f audit.Filter) (api.AuditList, error) {
	var out api.AuditList
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/audit", query: auditQuery(f)}, &out)
	return out, err
}

// Audit returns every audit entry matching f (at most f.Limit when set), following
// the server's pages.
func (c *Client) Audit(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	want := f.Limit
	var out []audit.Entry
	for {
		f.Limit = audit.MaxPage
		if want > 0 {
			f.Limit = min(want-len(out), audit.MaxPage)
		}
		page, err := c.AuditPage(ctx, f)
		if err != nil {
			return out, err
		}
		out = append(out, page.Items...)
		if page.Next == "" || want > 0 && len(out) >= want {
			return out, nil
		}
		if f.After, err = strconv.ParseInt(page.Next, 10, 64); err != nil {
			return out, fmt.Errorf("client: GET /api/v1/audit: next cursor %q: %w", page.Next, err)
		}
	}
}

// AuditJSONL copies the audit entries matching f to w as JSON lines, as the server
// streams them.
func (c *Client) AuditJSONL(ctx context.Context, f audit.Filter, w io.Writer) error {
	q := auditQuery(f)
	q.Set("format", "jsonl")
	req, err := c.newRequest(ctx, request{method: http.MethodGet, path: "/api/v1/audit", query: q})
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: GET /api/v1/audit: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("client: GET /api/v1/audit: %w", err)
	}
	return nil
}
