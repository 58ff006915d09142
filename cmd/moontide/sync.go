package main

import "github.com/spf13/cobra"

func newSyncCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Run a full sync of tables through a listener",
		Long: `Sync reads whole tables from the source in primary-key order, in chunks, and
hands every row to a listener as a 'snapshot' event, showing progress. Use it
to fill a new cache or index, or to repair one.

It runs alongside live capture: rows changed during the sync reach the
listener through the binlog as well, and the builtins' idempotent writes
(ES external versions, upserts) keep the newer value. An interrupted sync
resumes from the last finished chunk. Memory stays bounded whatever the
table size.`,
		Example: `  moontide sync --listener products-search --table shop.products
  moontide sync --listener orders-cache --table shop.orders --table shop.order_items`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return notAvailable(cmd, "sync lands with the snapshot work")
		},
	}
	cmd.Flags().String("listener", "", "the listener (script name) that receives the rows (required)")
	cmd.Flags().StringSlice("table", nil,
		"schema.table to sync (repeat for several); default: every table the listener subscribes to")
	cmd.Flags().Int("chunk-size", 1000, "rows read per keyset query")
	return cmd
}
