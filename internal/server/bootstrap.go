package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sluicehq/sluice/internal/auth"
)

// bootstrap makes the first admin token of an empty store: the given one from
// BootstrapTokenFrom, or a fresh one shown once (BootstrapTokenFile or out).
func bootstrap(ctx context.Context, a *auth.Service, s Security, out io.Writer) (bool, error) {
	if s.BootstrapTokenFrom == "" {
		return a.BootstrapTo(ctx, s.BootstrapTokenFile, out)
	}
	if s.BootstrapTokenFile != "" {
		return false, errors.New("--bootstrap-token-from and --bootstrap-token-file exclude each other")
	}
	b, err := os.ReadFile(s.BootstrapTokenFrom)
	if err != nil {
		return false, fmt.Errorf("read the bootstrap token: %w", err)
	}
	created, err := a.BootstrapWith(ctx, strings.TrimSpace(string(b)))
	if err != nil {
		return false, fmt.Errorf("bootstrap token from %s: %w", s.BootstrapTokenFrom, err)
	}
	return created, nil
}
