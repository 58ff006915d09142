package main

import "github.com/spf13/cobra"

func newExecCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec SCRIPT.lua [ARG ...]",
		Short: "Run an ad-hoc Lua script with every module",
		Long: `Exec runs one Lua script once, outside any listener, with the same builtin
modules (redis, es, mysql, http, json, log, source, ...) and the sinks of the
configuration. Extra arguments are passed to the script.

Writes are buffered and sent as they are for listeners, at the latest when
the script ends. The script runs under --timeout; the exit status is 1 when it
raises an error.`,
		Example: `  moontide exec scripts/adhoc/rebuild_index.lua
  moontide exec scripts/adhoc/purge.lua shop.orders 2024-01-01 --timeout 10m`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return notAvailable(cmd, "exec lands with the Lua engine and builtins work")
		},
	}
	cmd.Flags().Duration("timeout", 0, "stop the script after this long; 0 means no limit")
	return cmd
}
