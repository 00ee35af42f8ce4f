package server

import (
	"context"
	"errors"
	"log/slog"
)

// Config is what `sluice server` needs.
type Config struct {
	Addr        string // HTTP listen address, e.g. 127.0.0.1:7070
	DataDir     string // SQLite database directory when DatabaseURL is empty
	DatabaseURL string // postgres://... to use PostgreSQL
	Logger      *slog.Logger
	// Ready, when set, is called with the bound address once the server accepts requests.
	Ready func(addr string)
}

// Run serves until ctx is done. PLACEHOLDER: the engine owner fills this in.
func Run(ctx context.Context, cfg Config) error { return errors.New("server: not wired yet") }
