package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/store"
)

// pipelineCommand is `sluice pipeline run|status|list|approve|reject|abort`.
func (a *app) pipelineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Run a release through several environments (Pipeline documents) and follow, approve or abort it",
	}
	cmd.AddCommand(a.pipelineRunCommand(), a.pipelineStatusCommand(), a.pipelineListCommand(),
		a.pipelineDecideCommand(true), a.pipelineDecideCommand(false), a.pipelineAbortCommand())
	return cmd
}

func (a *app) pipelineRunCommand() *cobra.Command {
	var sets []string
	var version int64
	var follow bool
	cmd := &cobra.Command{
		Use:   "run PIPELINE [--var name=value]... [--follow]",
		Short: "Start a run of a pipeline with values for its variables",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vars, err := parseVars("var", sets)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			run, err := c.RunPipeline(cmd.Context(), args[0], version, vars)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "pipeline run %s started (pipeline %s version %d)\n", run.ID, run.Pipeline, run.PipelineVersion)
			if !follow {
				if done, err := a.emit(run); done {
					return err
				}
				fmt.Fprintln(a.stdout, run.ID)
				return nil
			}
			return a.followPipeline(cmd.Context(), c, run.ID)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&sets, "var", nil, "variable value as name=value; repeat for more")
	fl.Int64Var(&version, "version", 0, "pipeline version to run (default: the latest)")
	fl.BoolVarP(&follow, "follow", "f", false, "print the run's log until it ends; the exit status is 0 only when it succeeded")
	return cmd
}

func (a *app) pipelineStatusCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "status RUN [--follow]",
		Short: "Show a pipeline run: its stages, their gates and executions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if follow {
				return a.followPipeline(cmd.Context(), c, args[0])
			}
			run, err := c.GetPipelineRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if done, err := a.emit(run); done {
				return err
			}
			fmt.Fprintf(a.stdout, "run %s of pipeline %s v%d, started by %s %s: %s%s\n", run.ID, run.Pipeline, run.PipelineVersion,
				orDash(run.StartedBy), a.age(run.CreatedAt), run.Status, reasonSuffix(run.Reason))
			return a.table([]string{"STAGE", "ENVIRONMENT", "STATUS", "GATE", "EXECUTION", "ARTIFACT"}, stageRows(run))
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "print the run's log until it ends")
	return cmd
}

// stageRows is one table row per stage.
func stageRows(run api.PipelineRun) [][]string {
	rows := make([][]string, 0, len(run.Stages))
	for _, s := range run.Stages {
		gate := "-"
		if len(s.Gates) > 0 {
			done := 0
			for _, g := range s.Gates {
				if g.Passed {
					done++
				}
			}
			gate = fmt.Sprintf("%d/%d passed", done, len(s.Gates))
			if s.Status == "gated" && s.Gate < len(s.Gates) {
				g := s.Gates[s.Gate]
				gate = g.Kind
				switch g.Kind {
				case "approval":
					gate += " (" + strings.Join(g.Approvers, ", ") + ")"
				case "soak":
					gate += " " + g.Soak
				}
			}
		}
		artifact := s.Variables["artifact"]
		rows = append(rows, []string{s.Name, s.Environment, s.Status, gate, orDash(s.Execution), orDash(artifact)})
	}
	return rows
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

// followPipeline prints a run's log lines as they come and reports how it ended: a
// non-zero exit unless it succeeded. The lines come over the run's event stream; when
// the stream fails (an older server, a proxy in the way), the run is polled from the
// last line printed.
func (a *app) followPipeline(ctx context.Context, c *client.Client, id string) error {
	printed := 0
	for e, err := range c.FollowPipelineRun(ctx, id, 0) {
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(a.stderr, "pipeline run %s: event stream failed (%v); polling instead\n", id, err)
			}
			break
		}
		a.printPipelineLine(e.At, e.Level, e.Message)
		printed = int(e.Seq)
	}
	for {
		run, err := c.GetPipelineRun(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return &exitError{code: 130}
			}
			return err
		}
		for _, l := range run.Log[min(printed, len(run.Log)):] {
			a.printPipelineLine(l.At, l.Level, l.Message)
		}
		printed = len(run.Log)
		if run.Status.Terminal() {
			if run.Status != store.StatusSucceeded {
				return &exitError{code: 1, msg: fmt.Sprintf("pipeline run %s %s%s", run.ID, run.Status, reasonSuffix(run.Reason))}
			}
			fmt.Fprintf(a.stderr, "pipeline run %s succeeded\n", run.ID)
			return nil
		}
		select {
		case <-ctx.Done():
			return &exitError{code: 130}
		case <-time.After(time.Second):
		}
	}
}

// printPipelineLine prints one line of a run's log.
func (a *app) printPipelineLine(at time.Time, level, message string) {
	fmt.Fprintf(a.stdout, "%s %-5s %s\n", at.Local().Format("15:04:05"), level, message)
}

func (a *app) pipelineListCommand() *cobra.Command {
	var f client.PipelineRunFilter
	cmd := &cobra.Command{
		Use:   "list [--pipeline NAME] [--active]",
		Short: "List pipeline runs, newest first (the same as sluice get pipeline-runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.getPipelineRuns(cmd, c, f)
		},
	}
	cmd.Flags().StringVar(&f.Pipeline, "pipeline", "", "only runs of this pipeline")
	cmd.Flags().BoolVar(&f.Active, "active", false, "only runs that have not ended")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "at most this many (0: all)")
	return cmd
}

// getPipelineRuns prints runs, one row each, with where each stage is.
func (a *app) getPipelineRuns(cmd *cobra.Command, c *client.Client, f client.PipelineRunFilter) error {
	runs, err := c.PipelineRuns(cmd.Context(), f)
	if err != nil {
		return err
	}
	if done, err := a.emit(api.PipelineRunList{Items: runs}); done {
		return err
	}
	rows := make([][]string, 0, len(runs))
	for _, r := range runs {
		stages := make([]string, len(r.Stages))
		for i, s := range r.Stages {
			stages[i] = s.Name + ":" + s.Status
		}
		rows = append(rows, []string{r.ID, fmt.Sprintf("%s@%d", r.Pipeline, r.PipelineVersion), string(r.Status),
			strings.Join(stages, " "), orDash(r.StartedBy), a.age(r.CreatedAt)})
	}
	return a.table([]string{"ID", "PIPELINE", "STATUS", "STAGES", "BY", "AGE"}, rows)
}

func (a *app) pipelineDecideCommand(approve bool) *cobra.Command {
	verb := map[bool]string{true: "approve", false: "reject"}[approve]
	var comment string
	cmd := &cobra.Command{
		Use:   verb + " RUN STAGE [--comment TEXT]",
		Short: map[bool]string{true: "Approve the gate holding a stage of a pipeline run", false: "Reject the gate holding a stage: the stage fails and the run winds down"}[approve],
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			fn := c.ApprovePipeline
			if !approve {
				fn = c.RejectPipeline
			}
			if err := fn(cmd.Context(), args[0], args[1], comment); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "stage %s of run %s: %sd\n", args[1], args[0], verb)
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why (recorded with the decision)")
	return cmd
}

func (a *app) pipelineAbortCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "abort RUN [--reason TEXT]",
		Short: "Stop a pipeline run: stages in flight roll back, stages not started are skipped",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.AbortPipeline(cmd.Context(), args[0], reason); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "pipeline run %s: abort requested\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the run's log)")
	return cmd
}
