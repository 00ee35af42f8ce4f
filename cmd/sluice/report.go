package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// reportCommand prints an execution's release report: Markdown by default, the
// report's JSON or YAML with -o json|yaml.
func (a *app) reportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report ID",
		Short: "Print an execution's release report (Markdown): what ran, every verdict, approvals, traffic, the rollback",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				rep, err := c.Report(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				_, err = a.emit(rep)
				return err
			}
			md, err := c.ReportMarkdown(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(a.stdout, md)
			return err
		},
	}
}
