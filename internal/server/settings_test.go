package server

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/client"
)

// TestApplyChecksSettings checks that a running server hands the registry's check
// of platform, router and provider settings to the API: an environment whose New
// Relic provider lacks its account is refused at apply, at the provider's line,
// and is not stored.
func TestApplyChecksSettings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base, stop := startServer(t, ctx)
	defer stop()
	c, err := client.New(base, client.WithUser("tester"))
	if err != nil {
		t.Fatal(err)
	}
	env := recorderEnvironment("nr", "nr.jsonl", `  providers:
    - name: nr
      type: newrelic
      credentials: {apiKey: {env: NEW_RELIC_KEY}}
`)
	_, err = c.Apply(ctx, "nr.yaml", []byte(env), false)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || len(ae.Problems) != 1 {
		t.Fatalf("apply: %v, want 400 with one problem", err)
	}
	if p := ae.Problems[0]; p.File != "nr.yaml" || p.Line != 8 || p.Message != "provider nr: newrelic: needs settings.accountId" {
		t.Fatalf("problem %+v, want nr.yaml:8 saying the account is missing", p)
	}
	if _, err := c.Get(ctx, client.KindEnvironment, "nr", 0); err == nil {
		t.Fatal("the refused environment was stored")
	}
}
