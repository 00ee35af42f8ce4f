package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// undoCommand is `sluice undo SERVICE --environment ENV`.
func (a *app) undoCommand() *cobra.Command {
	var env, reason string
	cmd := &cobra.Command{
		Use:   "undo SERVICE --environment ENV",
		Short: "Put a service's previous release back: instantly while its slot is warm, otherwise by running it again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return fmt.Errorf("--environment: name the environment of service %s", args[0])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.Undo(cmd.Context(), env, args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", res.Mode, res.Message)
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "environment", "e", "", "the service's environment")
	cmd.Flags().StringVar(&reason, "reason", "", "why you undo (recorded with the execution)")
	return cmd
}
