package main

import "github.com/spf13/cobra"

func newDispatchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dispatch",
		Short: "Consume events from Kafka and run the listener scripts",
		Long: `Dispatch consumes events from Kafka and hands them in batches to the listener
scripts in scripts.dir. Each listener is its own consumer group, so listeners
progress and fail independently; start dispatch on more hosts to share the
partitions.

A batch's offsets are committed only after its handle call succeeded and
every sink write it buffered was acknowledged. A failed batch is retried with
backoff, in order; a listener that asks for it sends a batch to its
dead-letter topic after its retries run out.

Dispatch needs kafka.brokers; without brokers use 'moontide run'.`,
		Example: `  moontide dispatch -c conf.d
  moontide dispatch --listener orders-cache --listener products-search`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			only, err := cmd.Flags().GetStringSlice("listener")
			if err != nil {
				return err
			}
			return runProcess(cmd, role{dispatch: true}, only)
		},
	}
	cmd.Flags().StringSlice("listener", nil,
		"run only these listeners (by script name; repeat or separate with commas); default: all")
	return cmd
}
