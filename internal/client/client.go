package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/api"
)

// APIError is an error answered by the API.
type APIError struct {
	Status   int // HTTP status
	Code     string
	Message  string
	Field    string
	Problems []api.Problem
}

func (e *APIError) Error() string {
	if e.Field != "" && !strings.Contains(e.Message, e.Field) {
		return fmt.Sprintf("%s (field %s)", e.Message, e.Field)
	}
	return e.Message
}

// Client talks to one sluice server.
type Client struct {
	base   *url.URL
	http   *http.Client
	user   string
	groups []string
	token  string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client; it should have no overall Timeout, so that
// Follow can stream.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithUser sets the identity sent with every request.
func WithUser(user string, groups ...string) Option {
	return func(c *Client) { c.user, c.groups = user, groups }
}

// WithToken sends token as `Authorization: Bearer` on every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// New returns a client of the server at baseURL, such as http://127.0.0.1:7070.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: server address %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: server address %q: want http://host:port or https://host:port", baseURL)
	}
	c := &Client{base: u, http: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	body         io.Reader
	contentType  string
	header       http.Header
}

func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	u := *c.base
	u.Path += r.path
	u.RawQuery = r.query.Encode()
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), r.body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	// The server refuses state-changing requests an HTML form could send; this header
	// (which a page on another origin cannot set) says the request is a client's.
	req.Header.Set(api.HeaderRequest, "1")
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.user != "" {
		req.Header.Set(api.HeaderUser, c.user)
	}
	if len(c.groups) > 0 {
		req.Header.Set(api.HeaderGroups, strings.Join(c.groups, ","))
	}
	return req, nil
}

// do sends r and decodes a 2xx JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode answer: %w", r.method, r.path, err)
	}
	return nil
}

// decodeError turns an error response into an *APIError, even when it is not the
// API's JSON (a proxy's page, say).
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb api.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" {
		msg := strings.TrimSpace(string(b))
		if msg == "" {
			msg = resp.Status
		}
		return &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: msg}
	}
	return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message,
		Field: eb.Error.Field, Problems: eb.Error.Problems}
}

func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encode request: %w", err)
	}
	return bytes.NewReader(b), nil
}

// post sends v as a JSON body.
func (c *Client) post(ctx context.Context, path string, v, out any) error {
	body, err := jsonBody(v)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodPost, path: path, body: body, contentType: "application/json"}, out)
}

// IsNotFound reports whether err is the API's not_found answer.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == api.CodeNotFound
}
