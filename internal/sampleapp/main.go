package sampleapp

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
)

// Main runs the sample application as a program would: it parses args, serves until
// SIGTERM or SIGINT, writes errors to stderr, and returns the exit code (2 for bad
// arguments, 1 when serving failed). Tests use it to make their own binary the
// artifact a platform starts.
func Main(args []string, stderr io.Writer) int {
	cfg, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
