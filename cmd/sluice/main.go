// Command sluice is the progressive-delivery engine: server, demo and CLI in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	if kubectlPlugin(os.Args[0]) {
		args = kubectlArgs(args)
	}
	code := run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
