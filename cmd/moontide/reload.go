package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newReloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Reload the scripts of a running moontide",
		Long: `Reload asks the running process (through POST /reload on admin.listen, with
admin.token) to load every script into a new generation. If any script fails,
the running generation stays and the error is printed; otherwise changed
listeners drain their in-flight batch, commit, and switch. Unchanged listeners
are not touched and no event is lost. It is the same as sending SIGHUP.

The exit status is 1 when the reload was refused or the process could not be
reached.`,
		Example: `  moontide reload -c conf.d`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := callAdmin(cmd, "POST", "/reload"); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "reloaded")
			return nil
		},
	}
}
