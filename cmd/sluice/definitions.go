package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/spec"
)

// readInput reads a file, or standard input for "-".
func (a *app) readInput(name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(a.stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	return os.ReadFile(name) // its error names the file
}

func (a *app) applyCommand() *cobra.Command {
	var files []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE...",
		Short: "Store workflows and environments from YAML files (- for standard input), all or nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(files) == 0 {
				return errors.New("apply needs at least one -f FILE")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			files, err := a.readApplyFiles(files)
			if err != nil {
				return err
			}
			// One request: the server stores every file's documents or none of them.
			res, err := c.ApplyFiles(cmd.Context(), files, dryRun)
			if err != nil {
				return err
			}
			all := res.Results
			if done, err := a.emit(api.ApplyResponse{DryRun: dryRun, Results: all}); done {
				return err
			}
			for _, r := range all {
				suffix := ""
				if dryRun {
					suffix = " (dry run)"
				}
				fmt.Fprintf(a.stdout, "%s %s %s (version %d)%s\n", r.Kind, r.Name, r.Action, r.Version, suffix)
				for _, w := range r.Warnings {
					fmt.Fprintln(a.stderr, w)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "YAML file to apply; repeat for more; - reads standard input")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate on the server and report what would change, without storing")
	return cmd
}

// readApplyFiles reads every file named; when any cannot be read, the error names
// each one that failed and nothing is applied.
func (a *app) readApplyFiles(names []string) ([]api.ApplyFile, error) {
	files := make([]api.ApplyFile, 0, len(names))
	var errs []error
	for _, name := range names {
		src, err := a.readInput(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, api.ApplyFile{Name: name, Source: string(src)})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing applied: %w", errors.Join(errs...))
	}
	return files, nil
}

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check workflow and environment files offline; print every problem as file:line:col: message",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			problems := 0
			var docs []spec.Document
			for _, f := range args {
				n, ds := a.validateFile(f)
				problems += n
				docs = append(docs, ds...)
			}
			problems += a.crossCheck(docs)
			if problems > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d problem(s) in %d file(s)", problems, len(args))}
			}
			return nil
		},
	}
}

// validateFile prints a file's documents or its problems and returns how many
// problems it has, and its documents when it has none.
func (a *app) validateFile(name string) (int, []spec.Document) {
	src, err := a.readInput(name)
	if err != nil {
		fmt.Fprintln(a.stdout, err)
		return 1, nil
	}
	docs, err := spec.ParseDocuments(name, src)
	var ps spec.Problems
	switch {
	case errors.As(err, &ps):
		for _, p := range ps {
			fmt.Fprintln(a.stdout, problemLine(p.Pos.File, p.Pos.Line, p.Pos.Column, p.Message))
		}
		return max(len(ps), 1), nil
	case err != nil:
		fmt.Fprintf(a.stdout, "%s: %v\n", name, err)
		return 1, nil
	}
	// The settings of platforms, routers and providers, checked by their kinds.
	if ps := envrun.Builtin().CheckDocuments(docs); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintln(a.stdout, problemLine(p.Pos.File, p.Pos.Line, p.Pos.Column, p.Message))
		}
		return len(ps), nil
	}
	for _, d := range docs {
		fmt.Fprintf(a.stdout, "%s: %s %s is valid\n", name, d.Kind, d.Name)
		for _, w := range spec.Warnings(d) {
			fmt.Fprintln(a.stdout, problemLine(w.Pos.File, w.Pos.Line, w.Pos.Column, w.Message))
		}
	}
	return 0, docs
}

// crossCheck checks each workflow against its environment when both are among
// the validated documents (providers, router settings, a load test's reach),
// prints the problems and returns how many there are.
func (a *app) crossCheck(docs []spec.Document) int {
	ps := spec.CheckDocuments(docs)
	for _, p := range ps {
		fmt.Fprintln(a.stdout, problemLine(p.Pos.File, p.Pos.Line, p.Pos.Column, p.Message))
	}
	return len(ps)
}

// kindArg maps a CLI noun to a definition kind.
func kindArg(s string) (client.Kind, error) {
	switch s {
	case "workflow", "workflows", "wf":
		return client.KindWorkflow, nil
	case "environment", "environments", "env":
		return client.KindEnvironment, nil
	case "pipeline", "pipelines", "pl":
		return client.KindPipeline, nil
	}
	return "", fmt.Errorf("unknown kind %q: want workflow or environment", s)
}

// kindClient maps a CLI noun to a definition kind and returns it with the client.
func (a *app) kindClient(noun string) (client.Kind, *client.Client, error) {
	k, err := kindArg(noun)
	if err != nil {
		return "", nil, err
	}
	c, err := a.client()
	return k, c, err
}

func (a *app) historyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "history workflow|environment NAME",
		Short: "List every version of a workflow or environment",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, c, err := a.kindClient(args[0])
			if err != nil {
				return err
			}
			defs, err := c.History(cmd.Context(), k, args[1])
			if err != nil {
				return err
			}
			if done, err := a.emit(api.DefinitionList{Items: defs}); done {
				return err
			}
			rows := make([][]string, 0, len(defs))
			for _, d := range defs {
				note := ""
				if d.Deleted {
					note = "deleted"
				}
				rows = append(rows, []string{strconv.FormatInt(d.Version, 10), d.CreatedAt.Local().Format("2006-01-02 15:04:05"), orDash(d.CreatedBy), note})
			}
			return a.table([]string{"VERSION", "CREATED", "BY", "NOTE"}, rows)
		},
	}
}

func (a *app) deleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete workflow|environment NAME",
		Short: "Delete a workflow or environment (its history is kept)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, c, err := a.kindClient(args[0])
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), k, args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s %s deleted\n", k, args[1])
			return nil
		},
	}
}
