package main

import "github.com/spf13/cobra"

func newTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test [SCRIPT.lua ...]",
		Short: "Test listener scripts offline against their examples",
		Long: `Test loads listener scripts and runs the example events they carry against
recording fakes of the builtins, then compares the recorded writes with the
expected ones in the script. No database, Kafka or sink is contacted.

Without arguments every script in scripts.dir is tested. The exit status is
1 when any script fails to load or any example's writes differ.`,
		Example: `  moontide test
  moontide test scripts/orders_cache.lua`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return notAvailable(cmd, "test lands with the Lua engine and builtins work")
		},
	}
}
