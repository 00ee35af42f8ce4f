package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/spec"
)

func (a *app) describeCommand() *cobra.Command {
	var version int64
	cmd := &cobra.Command{
		Use:   "describe workflow|environment NAME | execution ID",
		Short: "Show one workflow, environment or execution in detail",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if args[0] == "execution" || args[0] == "ex" {
				return a.describeExecution(cmd, c, args[1])
			}
			k, err := kindArg(args[0])
			if err != nil {
				return fmt.Errorf("unknown kind %q: want workflow, environment or execution", args[0])
			}
			d, err := c.Get(cmd.Context(), k, args[1], version)
			if err != nil {
				return err
			}
			if done, err := a.emit(d); done {
				return err
			}
			a.describeDefinition(d)
			return nil
		},
	}
	cmd.Flags().Int64Var(&version, "version", 0, "workflow or environment version (default: the latest)")
	return cmd
}

// describeDefinition prints a definition's record and, for a workflow that parses,
// its variables and phases; otherwise its source.
func (a *app) describeDefinition(d api.Definition) {
	w := a.stdout
	fmt.Fprintf(w, "Name:     %s\nKind:     %s\nVersion:  %d\nCreated:  %s by %s\n", d.Name, d.Kind, d.Version,
		d.CreatedAt.Local().Format("2006-01-02 15:04:05"), orDash(d.CreatedBy))
	if d.Kind == string(client.KindWorkflow) {
		if wf, err := spec.ParseWorkflow(d.Name, []byte(d.Source)); err == nil {
			describeWorkflow(w, wf)
			return
		}
	}
	fmt.Fprintf(w, "Source:\n%s", indent(d.Source, "  "))
}

func describeWorkflow(w io.Writer, wf *spec.Workflow) {
	s := wf.Spec
	fmt.Fprintf(w, "Environment: %s\nService:  %s (port %d, artifact %s)\n", s.Environment, s.Service.Name, s.Service.Port, s.Service.Artifact)
	if len(s.Variables) > 0 {
		fmt.Fprintln(w, "Variables:")
		for _, v := range s.Variables {
			def := "(required)"
			if v.Default != nil {
				def = "default " + *v.Default
			} else if !v.Required {
				def = "(optional)"
			}
			fmt.Fprintf(w, "  %s %s %s  %s\n", v.Name, v.Type, def, v.Description)
		}
	}
	fmt.Fprintln(w, "Phases:")
	for i, p := range s.Phases {
		fmt.Fprintf(w, "  %d. %s\n", i+1, p.Name)
		for j := range p.Steps {
			st := &p.Steps[j]
			fmt.Fprintf(w, "     - %s (%s)\n", st.DisplayName(), st.Type())
		}
	}
}

func (a *app) describeExecution(cmd *cobra.Command, c *client.Client, id string) error {
	ex, err := c.GetExecution(cmd.Context(), id)
	if err != nil {
		return err
	}
	if done, err := a.emit(ex); done {
		return err
	}
	w := a.stdout
	fmt.Fprintf(w, "ID:          %s\nWorkflow:    %s (version %d)\nEnvironment: %s (version %d)\nService:     %s\n",
		ex.ID, ex.Workflow, ex.WorkflowVersion, orDash(ex.Environment), ex.EnvironmentVersion, orDash(ex.Service))
	fmt.Fprintf(w, "Status:      %s\n", ex.Status)
	if ex.Reason != "" {
		fmt.Fprintf(w, "Reason:      %s\n", ex.Reason)
	}
	fmt.Fprintf(w, "Started:     %s by %s\nUpdated:     %s\n", ex.CreatedAt.Local().Format("2006-01-02 15:04:05"),
		orDash(ex.StartedBy), ex.UpdatedAt.Local().Format("2006-01-02 15:04:05"))
	if len(ex.Variables) > 0 {
		fmt.Fprintln(w, "Variables:")
		keys := make([]string, 0, len(ex.Variables))
		for k := range ex.Variables {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s=%s\n", k, ex.Variables[k])
		}
	}
	if len(ex.State) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, ex.State, "  ", "  ") == nil {
			fmt.Fprintf(w, "State:\n  %s\n", buf.String())
		}
	}
	return nil
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	out := strings.Join(lines, "")
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}
