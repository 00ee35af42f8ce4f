package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/store"
)

func (a *app) runCommand() *cobra.Command {
	var sets []string
	var version int64
	var follow bool
	cmd := &cobra.Command{
		Use:   "run WORKFLOW [--set name=value]...",
		Short: "Start an execution of a workflow with values for its variables",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vars, err := parseVars("set", sets)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ex, err := c.Run(cmd.Context(), args[0], version, vars)
			if err != nil {
				return err
			}
			if !follow {
				if done, err := a.emit(ex); done {
					return err
				}
			}
			fmt.Fprintf(a.stderr, "execution %s started (workflow %s version %d)\n", ex.ID, ex.Workflow, ex.WorkflowVersion)
			if !follow {
				fmt.Fprintln(a.stdout, ex.ID)
				return nil
			}
			return a.follow(cmd, c, ex.ID)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&sets, "set", nil, "variable value as name=value; repeat for more")
	fl.Int64Var(&version, "version", 0, "workflow version to run (default: the latest)")
	fl.BoolVarP(&follow, "follow", "f", false, "stream the console until the execution ends")
	return cmd
}

// parseVars reads the values of the repeated flag --name as name=value pairs.
func parseVars(flag string, sets []string) (map[string]string, error) {
	vars := make(map[string]string, len(sets))
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want name=value", flag, s)
		}
		vars[k] = v
	}
	return vars, nil
}

func (a *app) logsCommand() *cobra.Command {
	var follow bool
	var after int64
	cmd := &cobra.Command{
		Use:   "logs [-f] ID",
		Short: "Print an execution's console; -f follows it until the execution ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if follow {
				return a.followFrom(cmd, c, args[0], after)
			}
			for {
				page, err := c.Events(cmd.Context(), args[0], after, 0)
				if err != nil {
					return err
				}
				for _, e := range page.Items {
					consoleLine(a.stdout, e)
				}
				if len(page.Items) == 0 {
					return nil
				}
				after = page.Next
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming until the execution ends")
	cmd.Flags().Int64Var(&after, "after", 0, "start after this event sequence number")
	return cmd
}

// follow streams an execution's console, then reports how it ended: a non-zero exit
// unless it succeeded.
func (a *app) follow(cmd *cobra.Command, c *client.Client, id string) error {
	return a.followFrom(cmd, c, id, 0)
}

// followFrom follows an execution from an event sequence number: the tree view on a
// terminal, plain console lines otherwise.
func (a *app) followFrom(cmd *cobra.Command, c *client.Client, id string, after int64) error {
	if out, ok := a.terminal(); ok {
		if err := a.followTerminal(cmd.Context(), c, id, after, out); err != nil {
			return err
		}
		return a.ended(cmd, c, id)
	}
	for e, err := range c.Follow(cmd.Context(), id, after) {
		if err != nil {
			if errors.Is(err, cmd.Context().Err()) {
				return &exitError{code: 130}
			}
			return err
		}
		consoleLine(a.stdout, e)
	}
	return a.ended(cmd, c, id)
}

// ended reports how a followed execution ended: a non-zero exit unless it succeeded.
func (a *app) ended(cmd *cobra.Command, c *client.Client, id string) error {
	ex, err := c.GetExecution(cmd.Context(), id)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("execution %s %s", ex.ID, ex.Status)
	if ex.Reason != "" {
		msg += ": " + ex.Reason
	}
	if ex.Status != store.StatusSucceeded {
		return &exitError{code: 1, msg: msg}
	}
	fmt.Fprintln(a.stderr, msg)
	return nil
}

// actionCommands are the verbs that act on one execution.
func (a *app) actionCommands() []*cobra.Command {
	type verb struct {
		name, short, flag, flagHelp string
		call                        func(c *client.Client, cmd *cobra.Command, id, text string) error
	}
	verbs := []verb{
		{"approve", "Approve the approval an execution waits for", "comment", "why you approve",
			func(c *client.Client, cmd *cobra.Command, id, text string) error {
				return c.Approve(cmd.Context(), id, text)
			}},
		{"reject", "Reject the approval an execution waits for (the workflow decides what follows)", "comment", "why you reject",
			func(c *client.Client, cmd *cobra.Command, id, text string) error {
				return c.Reject(cmd.Context(), id, text)
			}},
		{"rollback", "Send all traffic back to the live slot and end the execution", "reason", "why you roll back",
			func(c *client.Client, cmd *cobra.Command, id, text string) error {
				return c.Rollback(cmd.Context(), id, text)
			}},
		{"abort", "Stop an execution where it is, without rolling back", "reason", "why you abort",
			func(c *client.Client, cmd *cobra.Command, id, text string) error {
				return c.Abort(cmd.Context(), id, text)
			}},
		{"pause", "Pause an execution before its next step", "", "",
			func(c *client.Client, cmd *cobra.Command, id, _ string) error { return c.Pause(cmd.Context(), id) }},
		{"resume", "Resume a paused execution", "", "",
			func(c *client.Client, cmd *cobra.Command, id, _ string) error { return c.Resume(cmd.Context(), id) }},
		{"retry", "Run an execution's failed step again", "", "",
			func(c *client.Client, cmd *cobra.Command, id, _ string) error { return c.Retry(cmd.Context(), id) }},
	}
	cmds := make([]*cobra.Command, 0, len(verbs))
	for _, v := range verbs {
		var text string
		cmd := &cobra.Command{
			Use:   v.name + " ID",
			Short: v.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := a.client()
				if err != nil {
					return err
				}
				if err := v.call(c, cmd, args[0], text); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "execution %s: %s accepted\n", args[0], v.name)
				return nil
			},
		}
		if v.flag != "" {
			cmd.Flags().StringVar(&text, v.flag, "", v.flagHelp)
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}
