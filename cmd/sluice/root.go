package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/spec"
)

// DefaultServer is the API address the CLI talks to when neither --server nor
// SLUICE_SERVER says otherwise.
const DefaultServer = "http://127.0.0.1:7070"

// app is one invocation of the CLI: its streams, environment and global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time

	server string
	user   string
	output string
	token  string
}

// exitError ends the command with a status and a message already shown (or none).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run executes the CLI with args and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	return a.printError(err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Progressive delivery: blue/green with canary phases, verification, approvals and fast rollback",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch a.output {
			case "table", "json", "yaml":
				return nil
			}
			return fmt.Errorf("-o %q: want table, json or yaml", a.output)
		},
	}
	server := a.getenv("SLUICE_SERVER")
	if server == "" {
		server = DefaultServer
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", server, "sluice API address (env SLUICE_SERVER)")
	pf.StringVar(&a.user, "user", a.getenv("SLUICE_USER"), "who you are, sent to the server (env SLUICE_USER)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")
	pf.StringVar(&a.token, "token", "", "API token (default: env SLUICE_TOKEN, then the one saved by sluice login)")
	root.AddCommand(a.serverCommand(), a.routerCommand(), a.applyCommand(), a.validateCommand(), a.runCommand(),
		a.getCommand(), a.describeCommand(), a.historyCommand(), a.deleteCommand(), a.logsCommand())
	root.AddCommand(a.actionCommands()...)
	root.AddCommand(a.undoCommand())
	root.AddCommand(a.pipelineCommand())
	root.AddCommand(a.sampleAppCommand(), a.demoCommand())
	root.AddCommand(a.securityCommands()...)
	root.AddCommand(a.reportCommand())
	return root
}

// client returns an API client for the global flags.
func (a *app) client() (*client.Client, error) {
	var opts []client.Option
	if a.user != "" {
		opts = append(opts, client.WithUser(a.user))
	}
	if tok := a.apiToken(); tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	return client.New(a.server, opts...)
}

// printError shows err plainly on stderr, with every problem, and returns the exit
// status.
func (a *app) printError(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(a.stderr, "error:", ee.msg)
		}
		return ee.code
	}
	var ae *client.APIError
	var ps spec.Problems
	switch {
	case errors.As(err, &ae):
		fmt.Fprintln(a.stderr, "error:", ae.Error())
		for _, p := range ae.Problems {
			fmt.Fprintf(a.stderr, "  %s\n", problemLine(p.File, p.Line, p.Column, p.Message))
		}
	case errors.As(err, &ps):
		fmt.Fprintf(a.stderr, "error: %d problems\n", len(ps))
		for _, p := range ps {
			fmt.Fprintf(a.stderr, "  %s\n", problemLine(p.Pos.File, p.Pos.Line, p.Pos.Column, p.Message))
		}
	default:
		fmt.Fprintln(a.stderr, "error:", err)
	}
	return 1
}

// problemLine formats a problem as file:line:col: message.
func problemLine(file string, line, col int, msg string) string {
	pos := spec.Pos{File: file, Line: line, Column: col}.String()
	if pos == "" {
		return msg
	}
	return pos + ": " + msg
}
