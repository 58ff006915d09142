package main

import "github.com/spf13/cobra"

func newTailCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail [schema.table ...]",
		Short: "Print change events as they happen",
		Long: `Tail prints change events as JSON lines on stdout, one per changed row, in the
form scripts receive them. It is for looking, not for building on: it never
saves a checkpoint and never commits Kafka offsets, so running it changes
nothing for capture or dispatch.

Arguments are schema.table patterns ('*' allowed in each part); without any,
every table the source section includes is shown. Events come from Kafka when
kafka.brokers is set, otherwise straight from the binlog under a replica id
of its own, so it does not disturb a running capture.`,
		Example: `  moontide tail 'shop.*'
  moontide tail shop.orders --from earliest --limit 10`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return notAvailable(cmd, "tail lands with the binlog capture work")
		},
	}
	cmd.Flags().String("from", "latest",
		"where to begin: latest, earliest, FILE:POS or a GTID set")
	cmd.Flags().Int("limit", 0, "stop after this many events; 0 means run until interrupted")
	return cmd
}
