package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
)

func (a *app) getCommand() *cobra.Command {
	var f client.ExecutionFilter
	var environment string
	cmd := &cobra.Command{
		Use:   "get workflows|environments|executions|services|pipelines|pipeline-runs",
		Short: "List workflows, environments, executions or services",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			switch args[0] {
			case "workflows", "workflow", "wf", "environments", "environment", "env":
				k, _ := kindArg(args[0])
				return a.getDefinitions(cmd, c, k)
			case "executions", "execution", "ex":
				f.Environment = environment
				return a.getExecutions(cmd, c, f)
			case "services", "service", "svc":
				return a.getServices(cmd, c, environment)
			case "pipelines", "pipeline", "pl":
				return a.getDefinitions(cmd, c, client.KindPipeline)
			case "pipeline-runs", "pipeline-run", "pr":
				return a.getPipelineRuns(cmd, c, client.PipelineRunFilter{Active: f.Active, Limit: f.Limit})
			}
			return fmt.Errorf("unknown resource %q: want workflows, environments, executions or services", args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Workflow, "workflow", "", "executions: only of this workflow")
	fl.StringVar(&environment, "environment", "", "executions and services: only in this environment")
	fl.StringVar(&f.Status, "status", "", "executions: only in this status")
	fl.StringVar(&f.StartedBy, "started-by", "", "executions: only started by this user")
	fl.BoolVar(&f.Active, "active", false, "executions: only those still running")
	fl.IntVar(&f.Limit, "limit", 50, "executions: at most this many (0: all)")
	return cmd
}

func (a *app) getDefinitions(cmd *cobra.Command, c *client.Client, k client.Kind) error {
	defs, err := c.List(cmd.Context(), k)
	if err != nil {
		return err
	}
	if done, err := a.emit(api.DefinitionList{Items: defs}); done {
		return err
	}
	rows := make([][]string, 0, len(defs))
	for _, d := range defs {
		rows = append(rows, []string{d.Name, strconv.FormatInt(d.Version, 10), a.age(d.CreatedAt), orDash(d.CreatedBy)})
	}
	return a.table([]string{"NAME", "VERSION", "UPDATED", "BY"}, rows)
}

func (a *app) getExecutions(cmd *cobra.Command, c *client.Client, f client.ExecutionFilter) error {
	exs, err := c.ListExecutions(cmd.Context(), f)
	if err != nil {
		return err
	}
	if done, err := a.emit(api.ExecutionList{Items: exs}); done {
		return err
	}
	rows := make([][]string, 0, len(exs))
	for _, e := range exs {
		rows = append(rows, []string{e.ID, fmt.Sprintf("%s@%d", e.Workflow, e.WorkflowVersion), orDash(e.Environment),
			orDash(e.Service), string(e.Status), orDash(e.StartedBy), a.age(e.CreatedAt)})
	}
	return a.table([]string{"ID", "WORKFLOW", "ENVIRONMENT", "SERVICE", "STATUS", "STARTED BY", "AGE"}, rows)
}

func (a *app) getServices(cmd *cobra.Command, c *client.Client, environment string) error {
	svcs, err := c.Services(cmd.Context(), environment)
	if err != nil {
		return err
	}
	if done, err := a.emit(api.ServiceList{Items: svcs}); done {
		return err
	}
	rows := make([][]string, 0, len(svcs))
	for _, s := range svcs {
		rows = append(rows, []string{s.Environment, s.Service, orDash(s.LiveSlot), orDash(s.Artifact),
			strconv.Itoa(s.Instances), orDash(s.ExecutionID), a.age(s.UpdatedAt)})
	}
	return a.table([]string{"ENVIRONMENT", "SERVICE", "LIVE", "ARTIFACT", "INSTANCES", "EXECUTION", "UPDATED"}, rows)
}
