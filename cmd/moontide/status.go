package main

import "github.com/spf13/cobra"

func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show position, lag and listeners of a running moontide",
		Long: `Status asks the running process (GET /status on admin.listen, with
admin.token) for its binlog position, capture lag, checkpoint age, listeners
with their progress, the script generation and the last errors, and prints
them.

The exit status is 1 when the process could not be reached.`,
		Example: `  moontide status
  moontide status --json | jq .listeners`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return notAvailable(cmd, "status lands with the admin server work")
		},
	}
	cmd.Flags().Bool("json", false, "print the status document as JSON")
	return cmd
}
